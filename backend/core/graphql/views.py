"""The ``/graphql/`` endpoint: Strawberry's async Django view, served under ASGI."""

from typing import Any

import orjson
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from strawberry.django.views import AsyncGraphQLView
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from backend.core.graphql.context import NexusContext
from backend.core.graphql.errors import error_code_for

_DJANGO_JSON = DjangoJSONEncoder()


class NexusGraphQLView(AsyncGraphQLView[NexusContext, None]):
    """Resolves the viewer before execution and gives every error an ``extensions.code``.

    GraphiQL is served only where introspection is allowed (``GRAPHQL_INTROSPECTION``,
    default ``DEBUG``): an IDE that cannot read the schema is no use, and production shows
    neither.
    """

    def should_render_graphql_ide(self, request: Any) -> bool:
        # Read per request rather than when the URLconf is built, so the setting is authoritative.
        allowed = getattr(settings, "GRAPHQL_INTROSPECTION", settings.DEBUG)
        return bool(allowed) and super().should_render_graphql_ide(request)

    def encode_json(self, data: object) -> bytes:
        # orjson, decoding to what Strawberry's DjangoJSONEncoder writes: anything orjson does
        # not write natively (Decimal, lazy strings; datetimes, whose format differs) goes to
        # Django's encoder. Result data is already scalars and strings.
        return orjson.dumps(
            data, default=_DJANGO_JSON.default, option=orjson.OPT_PASSTHROUGH_DATETIME
        )

    async def get_context(self, request: HttpRequest, response: HttpResponse) -> NexusContext:
        # Resolve the viewer once, before execution, so resolvers on the event loop can read
        # ``request.user`` without a query. ``auser`` (Django's async user, or the bearer
        # token's user) queries only when there is a session to load: an anonymous or
        # token-authenticated request costs no thread hop here.
        request.user = await request.auser()  # type: ignore[attr-defined]
        return NexusContext(request=request, response=response)

    async def process_result(
        self, request: HttpRequest, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response: dict[str, Any] = dict(await super().process_result(request, result))
        if result.errors:
            response["errors"] = [
                {
                    **formatted,
                    "extensions": {
                        "code": error_code_for(error),
                        **(formatted.get("extensions") or {}),
                    },
                }
                for error, formatted in zip(result.errors, response["errors"], strict=True)
            ]
        return response  # type: ignore[return-value]
