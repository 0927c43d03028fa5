"""The ``/graphql/`` endpoint: Strawberry's sync Django view (decision 0010).

Served under WSGI in production (granian) and under ASGI by Daphne (``make run``), where Django
runs it in one worker thread. A document that selects a DataLoader field executes on an event
loop (``backend.core.graphql.schema``); every other one runs in the request's thread alone.
"""

from typing import Any

import orjson
from django.conf import settings
from django.contrib.auth.middleware import get_user
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject
from strawberry.django.views import GraphQLView
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from backend.core.graphql.body import UndecodedBodyRequestAdapter, graphql_json_decode
from backend.core.graphql.context import NexusContext
from backend.core.graphql.errors import error_code_for

_DJANGO_JSON = DjangoJSONEncoder()


class NexusGraphQLView(GraphQLView[NexusContext, None]):
    """Resolves the viewer before execution and gives every error an ``extensions.code``.

    GraphiQL is served only where introspection is allowed (``GRAPHQL_INTROSPECTION``,
    default ``DEBUG``): an IDE that cannot read the schema is no use, and production shows
    neither.
    """

    def should_render_graphql_ide(self, request: Any) -> bool:
        # Read per request rather than when the URLconf is built, so the setting is authoritative.
        allowed = getattr(settings, "GRAPHQL_INTROSPECTION", settings.DEBUG)
        return bool(allowed) and super().should_render_graphql_ide(request)

    request_adapter_class = UndecodedBodyRequestAdapter

    def decode_json(self, data: str | bytes) -> object:
        return graphql_json_decode(data)  # refuses what is not a bounded JSON object (400)

    def encode_json(self, data: object) -> bytes:
        # orjson, decoding to what Strawberry's DjangoJSONEncoder writes: anything orjson does
        # not write natively (Decimal, lazy strings; datetimes, whose format differs) goes to
        # Django's encoder. Result data is already scalars and strings.
        return orjson.dumps(
            data, default=_DJANGO_JSON.default, option=orjson.OPT_PASSTHROUGH_DATETIME
        )

    def get_context(self, request: HttpRequest, response: HttpResponse) -> NexusContext:
        # Resolve a session's lazy user here, in the request's thread: resolvers of a document
        # that runs on an event loop read ``request.user`` there, where a query is refused.
        # Cookieless and bearer-token requests carry a resolved user already. The middleware's
        # ``get_user``, not ``auth.get_user``: it reuses the user if the lazy object was read.
        if isinstance(request.user, SimpleLazyObject):
            request.user = get_user(request)
        return NexusContext(request=request, response=response)

    def process_result(self, request: HttpRequest, result: ExecutionResult) -> GraphQLHTTPResponse:
        response: dict[str, Any] = dict(super().process_result(request, result))
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
