from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views import defaults
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from backend.api.explorers import with_explorer_csp
from backend.api.graphql.views import NexusGraphQLView
from backend.api.rest.docs import served_when_docs_public
from backend.api.rest.framework import server_error_problem
from backend.api.rest.urls import UnknownRouteView
from backend.api.schema import schema
from backend.api.views import jwks_view
from backend.core.metrics import metrics_view
from backend.core.views import healthz, readyz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    # 404 unless METRICS_BEARER_TOKEN is set and the request bears it (backend/core/metrics.py).
    path("metrics", metrics_view, name="metrics"),
    path(
        "graphql/",
        NexusGraphQLView.as_view(schema=schema),
        name="graphql",
    ),
    path(".well-known/jwks.json", jwks_view, name="jwks"),
    path("api/v1/", include("backend.api.rest.urls")),
    path("api/schema/", served_when_docs_public(SpectacularAPIView.as_view()), name="api-schema"),
    path(
        "api/docs/",
        # The split view serves its start-up script from this URL (?script), not inline.
        served_when_docs_public(
            with_explorer_csp(
                SpectacularSwaggerSplitView.as_view(
                    url_name="api-schema", template_name="api/swagger_ui.html"
                )
            )
        ),
        name="api-docs",
    ),
    path(
        "api/redoc/",
        served_when_docs_public(
            with_explorer_csp(
                SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html")
            )
        ),
        name="api-redoc",
    ),
    # Every other /api/ URL: a problem+json 404, as under /api/v1/.
    re_path(r"^api/[\s\S]*$", UnknownRouteView.as_view()),
]


def handler500(request: HttpRequest) -> HttpResponse:
    """A server fault that escaped every view's own handling: problem+json under ``/api/``,
    as every other ``/api/`` response; Django's plain page elsewhere (admin, health)."""
    if request.path_info.startswith("/api/"):
        return server_error_problem(request)
    return defaults.server_error(request)
