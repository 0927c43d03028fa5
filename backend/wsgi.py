"""WSGI entry point: HTTP only, the production web server's (decisions 0010 and 0014).

WebSockets need ASGI: ``backend.asgi`` (Daphne) serves them.
"""

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application

from backend.core.tracing import tracing_start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# The keys a server sets from the request itself (PEP 3333, CGI); everything else in the
# process environment is configuration.
REQUEST_KEYS = frozenset(
    {
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "REMOTE_ADDR",
        "REMOTE_PORT",
        "REMOTE_HOST",
    }
)


def without_process_environment(application: WSGIApplication) -> WSGIApplication:
    """granian starts every request's environ as a copy of the process environment, as CGI
    does, so ``request.META`` would hold ``SECRET_KEY``, ``JWT_PRIVATE_KEY`` and the password
    in ``DATABASE_URL``: one error report or debug log of ``META`` away from a leak (Django's
    report filter hides the first two by name, not the third). The variables present at start
    are dropped from each environ. That includes an ``HTTP_*`` variable such as ``HTTP_PROXY``,
    which would otherwise pass for a request header (httpoxy)."""
    configuration = tuple(name for name in os.environ if name not in REQUEST_KEYS)

    def application_without_configuration(
        environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        for name in configuration:
            environ.pop(name, None)
        return application(environ, start_response)

    return application_without_configuration


tracing_start()  # when enabled; before the handler below loads MIDDLEWARE
application = without_process_environment(get_wsgi_application())

from backend.core.startup import freeze_startup_objects  # noqa: E402  after Django setup

freeze_startup_objects()
