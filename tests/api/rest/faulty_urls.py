"""The project's URLconf plus views that fail, for tests/api/rest/test_server_faults.py: a REST
view, and a plain Django view (a fault outside DRF's handling), under ``/api/`` and outside it.
The exception raised is named by the ``fault`` query parameter."""

from typing import NoReturn

from django.db import IntegrityError
from django.http import HttpRequest
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from backend.api.urls import handler500
from backend.api.urls import urlpatterns as project_urlpatterns

# What a fault's message might hold: the test asserts no response shows it.
SECRET = "postgres://nexus:hunter2@db/nexus"
FAULTS: dict[str, type[BaseException]] = {
    exception.__name__: exception
    for exception in (
        RuntimeError,
        ValueError,
        KeyError,
        TypeError,
        ZeroDivisionError,
        AttributeError,
        AssertionError,
        RecursionError,
        NotImplementedError,
        IntegrityError,
        UnicodeDecodeError,
    )
}


def fault_raise(name: str) -> NoReturn:
    exception = FAULTS[name]
    if exception is UnicodeDecodeError:
        raise UnicodeDecodeError("utf-8", SECRET.encode(), 0, 1, SECRET)
    raise exception(SECRET)


class FaultyRestView(APIView):
    permission_classes = [AllowAny]
    schema = None

    def get(self, request: Request) -> NoReturn:
        fault_raise(request.query_params["fault"])

    post = put = patch = delete = get


def faulty_django_view(request: HttpRequest) -> NoReturn:
    fault_raise(request.GET["fault"])


urlpatterns = [
    path("api/v1/faulty", FaultyRestView.as_view()),
    path("api/faulty-plain", faulty_django_view),
    path("faulty-page", faulty_django_view),
    *project_urlpatterns,
]

__all__ = ["handler500", "urlpatterns"]
