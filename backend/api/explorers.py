"""The Content-Security-Policy of the API explorers: Swagger UI, ReDoc and GraphiQL.

Their scripts, stylesheets and fonts are Nexus's own static files (drf-spectacular-sidecar's
Swagger UI and ReDoc builds; GraphiQL's pinned files under ``static/graphiql/vendor``), so the
policy allows 'self' and no other origin, and no inline script. 'self' covers the WebSocket to
the page's own host and port, where GraphiQL's subscriptions go. Beyond 'self', and reaching no
network: ``data:`` images and fonts (the vendored stylesheets embed them), ``blob:`` workers
(ReDoc builds its search index in a worker made by its own script), and the two <style>
elements ReDoc writes as it starts, by hash. ReDoc also shows Redocly's logo from
cdn.redoc.ly, hard-coded: the policy refuses it, and the page renders without it.
"""

import json
from collections.abc import Callable
from functools import cache, wraps
from pathlib import Path
from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.templatetags.static import static
from django.utils.csp import CSP, build_policy

# The two <style> elements ReDoc writes as it starts, allowed by their hashes: its scrollbar's
# stylesheet, and the empty element styled-components then fills through the CSSOM (which CSP
# does not govern). A ReDoc upgrade that changes them fails tests/api/test_explorers.py.
REDOC_STYLE_HASHES = [
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
]
EXPLORER_CSP: dict[str, list[str]] = {
    "default-src": [CSP.SELF],
    "style-src": [CSP.SELF, *REDOC_STYLE_HASHES],
    "img-src": [CSP.SELF, "data:"],
    "worker-src": [CSP.SELF, "blob:"],
    "font-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
EXPLORER_CSP_HEADER = build_policy(EXPLORER_CSP)
GRAPHIQL_MANIFEST = Path(__file__).parent / "static" / "graphiql" / "vendor" / "manifest.json"


def under_explorer_csp[Response: HttpResponseBase](response: Response) -> Response:
    """``response``, carrying the explorers' Content-Security-Policy."""
    response[CSP.HEADER_ENFORCE] = EXPLORER_CSP_HEADER
    return response


def with_explorer_csp(
    view: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """``view``, its responses carrying the explorers' Content-Security-Policy."""

    @wraps(view)
    def with_policy(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return under_explorer_csp(view(request, *args, **kwargs))

    return with_policy


@cache
def graphiql_assets() -> dict[str, list[str]]:
    """The URLs of GraphiQL's pinned files (the manifest's), stylesheets and scripts in load
    order: the template context of the GraphiQL page."""
    urls = [
        static(f"graphiql/vendor/{asset['package']}@{asset['version']}/{asset['file']}")
        for asset in json.loads(GRAPHIQL_MANIFEST.read_text())["assets"]
    ]
    return {
        "stylesheets": [url for url in urls if url.endswith(".css")],
        "scripts": [url for url in urls if url.endswith(".js")],
    }
