"""The REST shim's routes, mounted under ``/api/v1/`` by ``backend.api.urls``."""

from typing import Any, NoReturn

from django.http import Http404
from django.urls import path, re_path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from backend.api.rest.accounts import TokenCreateView, TokenRefreshView, TokenRevokeView
from backend.api.rest.catalog import CategoryViewSet, ProductViewSet
from backend.api.rest.orders import OrderViewSet

# No trailing slashes: /api/v1/products/12, as the issue and the README spell them.
router = SimpleRouter(trailing_slash=False)
router.register("categories", CategoryViewSet, basename="category")
router.register("products", ProductViewSet, basename="product")
router.register("orders", OrderViewSet, basename="order")


class UnknownRouteView(APIView):
    """Any other URL under /api/v1/ (``/products/abc``): a problem+json 404, not Django's
    HTML page, so clients parse one error format everywhere."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    schema = None  # not an operation

    def http_method_not_allowed(self, request: Request, *args: Any, **kwargs: Any) -> NoReturn:
        raise Http404


urlpatterns = [
    path("auth/token", TokenCreateView.as_view(), name="auth-token"),
    path("auth/refresh", TokenRefreshView.as_view(), name="auth-refresh"),
    path("auth/revoke", TokenRevokeView.as_view(), name="auth-revoke"),
    *router.urls,
    # Last: only what nothing else matched; [\s\S], not ".", so a %0A matches too.
    re_path(r"^[\s\S]*$", UnknownRouteView.as_view()),
]
