"""Django's ASGI handler, lending each request a pooled worker thread instead of a new one.

Django runs all of a request's sync work (signal receivers, ORM calls made through
``sync_to_async``) on one thread reserved for that request: asgiref's
``ThreadSensitiveContext``. Left to itself, that context starts a new thread for every request
and, on exit, a second thread to join the first; on a product page under load the two starts
and joins were a large share of the server's CPU (decision 0008; docs/performance.md,
"Levers"). asgiref lets the
caller supply the context's executor and then leaves it running: here each request borrows a
single-thread executor from a pool and returns it when the request is done. The guarantees
stay: one thread per request, never serving two requests at once (a thread still finishing
the work of an abandoned request finishes it before the next request's work, in order).

Django keeps database connections per thread. A pooled thread keeps its ``DatabaseWrapper``
from one request to the next, as a thread of a threaded WSGI server does, and Django's own
``request_started``/``request_finished`` receivers return or recycle the connection itself
(``CONN_MAX_AGE``, health checks) at each request's start and end, as they do there. That also
spares each request building a new wrapper. ``CONN_MAX_AGE`` is 0 (backend/settings.py): the
connection goes back to the pool when the request ends, so an idle thread holds none.
"""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import django
from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler

# Idle request threads kept per process; a burst beyond it starts threads as Django would and
# lets the extra ones end afterwards.
IDLE_REQUEST_THREADS = 64


class PooledThreadASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self._idle_executors: list[ThreadPoolExecutor] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)  # Django refuses it
            return
        executor = (
            self._idle_executors.pop()
            if self._idle_executors
            else ThreadPoolExecutor(max_workers=1, thread_name_prefix="django-request")
        )
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            if len(self._idle_executors) < IDLE_REQUEST_THREADS:
                self._idle_executors.append(executor)
            else:
                executor.shutdown(wait=False)  # its thread ends once its queue is done


def get_asgi_application() -> PooledThreadASGIHandler:
    """``django.core.asgi.get_asgi_application`` with the pooled-thread handler."""
    django.setup(set_prefix=False)
    return PooledThreadASGIHandler()
