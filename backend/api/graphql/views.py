"""The ``/graphql/`` endpoint: Strawberry's sync Django view (decision 0010).

Served under WSGI in production (granian) and under ASGI by Daphne (``make run``), where Django
runs it in one worker thread. A document that selects a DataLoader field executes on an event
loop (``backend.api.graphql.schema``); every other one runs in the request's thread alone.

It speaks GraphQL over HTTP (``backend.api.graphql.media_types``): a response is written in
``application/graphql-response+json`` when the client asks for it, with the specification's
status codes, and in ``application/json`` (always 200 for a GraphQL result) otherwise. A request
refused before any GraphQL work (its JSON or parameters are malformed, it has no query, its
``operationName`` picks no single operation: ``operation_resolution_error``) is a 400 in either
type, with a coded GraphQL error.
"""

from collections.abc import Mapping
from typing import Any

import orjson
from cross_web import HTTPException, SyncHTTPRequestAdapter
from django.conf import settings
from django.contrib.auth.middleware import get_user
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.template.loader import render_to_string
from django.utils.functional import SimpleLazyObject
from django.utils.log import log_response
from strawberry.django.views import GraphQLView, TemporalHttpResponse
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from backend.api.explorers import graphiql_assets, under_explorer_csp
from backend.api.graphql.body import (
    RequestRefusedError,
    UndecodedBodyRequestAdapter,
    graphql_json_decode,
)
from backend.api.graphql.context import NexusContext
from backend.api.graphql.documents import operation_resolution_error
from backend.api.graphql.errors import (
    INTERNAL_SERVER_ERROR,
    INTERNAL_SERVER_ERROR_MESSAGE,
    OPERATION_NOT_SUPPORTED,
    OPERATION_RESOLUTION_FAILURE,
    error_code_for,
)
from backend.api.graphql.media_types import (
    APPLICATION_JSON,
    GRAPHQL_RESPONSE_JSON,
    is_request_error,
    request_error_status,
    response_media_type,
)
from backend.core.databases import (
    SERVICE_UNAVAILABLE,
    SERVICE_UNAVAILABLE_MESSAGE,
    database_unavailable,
)
from backend.core.log_context import log_context_user_set

_DJANGO_JSON = DjangoJSONEncoder()


class NexusGraphQLView(GraphQLView[NexusContext, None]):
    """Resolves the viewer before execution and gives every error an ``extensions.code``.

    GraphiQL is served only where introspection is allowed (``GRAPHQL_INTROSPECTION``,
    default ``DEBUG``): an IDE that cannot read the schema is no use, and production shows
    neither.
    """

    # The media type this request's response is written in: Django builds a view instance per
    # request, and ``dispatch`` negotiates it before anything else runs.
    media_type: str = APPLICATION_JSON

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        media_type = response_media_type(request.META.get("HTTP_ACCEPT", ""))
        if media_type is None and not self.should_render_graphql_ide(
            self.request_adapter_class(request)
        ):
            return HttpResponse(
                f"Not Acceptable: the response is {GRAPHQL_RESPONSE_JSON} or {APPLICATION_JSON}",
                status=406,
                content_type="text/plain",
            )
        self.media_type = media_type or APPLICATION_JSON
        response = super().dispatch(request, *args, **kwargs)
        if response.status_code == 405:
            # RFC 9110: a 405 names the methods allowed; a GET may carry only a query.
            response["Allow"] = "POST" if request.method == "GET" else "GET, POST"
        return response

    def run(
        self, request: HttpRequest, context: NexusContext | None = UNSET, root_value: None = UNSET
    ) -> HttpResponseBase:
        try:
            return super().run(request, context=context, root_value=root_value)
        except RequestRefusedError as refusal:
            error = {"message": refusal.reason, "extensions": {"code": refusal.code}}
            # As for any request error: no ``data`` entry in the newer type, ``"data": null``
            # in application/json for the clients written against it.
            response_data: dict[str, Any] = {"errors": [error]}
            if self.media_type == APPLICATION_JSON:
                response_data = {"data": None, **response_data}
            sub_response = TemporalHttpResponse()
            sub_response.status_code = refusal.status_code
            return self.create_response(response_data, sub_response)  # type: ignore[arg-type]

    def parse_http_body(
        self, request: SyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        try:
            data = super().parse_http_body(request)
        except RequestRefusedError:
            raise
        except HTTPException as error:
            # Strawberry's refusals of the request's shape (a parameter of the wrong type, a
            # batch, a content type it does not read) are all 400s.
            if error.status_code != 400:
                raise
            raise RequestRefusedError(error.reason) from error
        # Strawberry checks the type of every other parameter; a non-string operation name
        # would reach the schema's caches and fail there (a 500).
        if isinstance(data, GraphQLRequestData) and not isinstance(data.operation_name, str | None):
            raise RequestRefusedError(
                "The GraphQL operation's `operationName` must be a string or null, if provided."
            )
        return data

    def execute_single(
        self,
        request: HttpRequest,
        request_adapter: SyncHTTPRequestAdapter,
        sub_response: TemporalHttpResponse,
        context: NexusContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        # The GraphQL spec's GetOperation, the rule the WebSocket applies too: Strawberry would
        # run the first of several operations when no name is sent.
        query = request_data.query
        if isinstance(query, str) and (
            (refusal := operation_resolution_error(query, request_data.operation_name)) is not None
        ):
            raise RequestRefusedError(refusal.message, OPERATION_RESOLUTION_FAILURE)
        try:
            result = super().execute_single(
                request=request,
                request_adapter=request_adapter,
                sub_response=sub_response,
                context=context,
                root_value=root_value,
                request_data=request_data,
            )
        except HTTPException as error:
            cause = error.__cause__
            # GraphQL over HTTP: a mutation (or a subscription) sent with GET is a 405.
            if request_adapter.method == "GET" and isinstance(cause, InvalidOperationTypeError):
                raise HTTPException(405, error.reason) from cause
            if isinstance(cause, InvalidOperationTypeError):  # a subscription sent with POST
                raise RequestRefusedError(error.reason, OPERATION_NOT_SUPPORTED) from cause
            if isinstance(cause, MissingQueryError):
                raise RequestRefusedError(error.reason) from cause
            raise
        for error in result.errors or ():
            if database_unavailable(error.original_error):
                # The operation could not run: the platform answers the request (a 503, or
                # the same reads again on the primary when a replica failed them).
                raise error.original_error  # type: ignore[misc]
        return result

    def render_graphql_ide(self, request: HttpRequest) -> HttpResponse:
        """GraphiQL from Nexus's own static files, under the explorers' CSP."""
        page = render_to_string("api/graphiql.html", graphiql_assets(), request=request)
        return under_explorer_csp(HttpResponse(page))

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
            if request.user.is_authenticated:
                log_context_user_set(request.user.pk)
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
            if not settings.DEBUG:
                # An exception that escaped the operation was never masked by the error policy:
                # its message may name internals.
                for formatted in response["errors"]:
                    if formatted["extensions"]["code"] == INTERNAL_SERVER_ERROR:
                        formatted["message"] = INTERNAL_SERVER_ERROR_MESSAGE
            # application/json keeps ``"data": null`` for the clients written against it.
            if self.media_type == GRAPHQL_RESPONSE_JSON and is_request_error(
                result.data, result.errors
            ):
                del response["data"]
        return response  # type: ignore[return-value]

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: TemporalHttpResponse,
    ) -> HttpResponseBase:
        response = super().create_response(response_data, sub_response)
        if self.media_type == GRAPHQL_RESPONSE_JSON:
            response["Content-Type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
            # A response without data is a request error: 4xx or 5xx (batching is off, so
            # ``response_data`` is one response).
            if isinstance(response_data, Mapping) and "data" not in response_data:
                response.status_code = request_error_status(response_data.get("errors") or ())
                if response.status_code >= 500:
                    # The fault is logged once, at ERROR with its traceback, by the schema's
                    # error policy; Django would log the response at ERROR again, without one.
                    log_response(
                        "%s: %s (the fault is logged above)",
                        response.reason_phrase,
                        self.request.path,
                        response=response,
                        request=self.request,
                        level="info",
                    )
        return response


def service_unavailable_response(request: HttpRequest) -> HttpResponse:
    """The 503 of a request whose database could not be reached, as a GraphQL request error in
    the media type the client accepts (``backend.core.databases`` adds the status and
    ``Retry-After``)."""
    media_type = response_media_type(request.META.get("HTTP_ACCEPT", "")) or APPLICATION_JSON
    error = {"message": SERVICE_UNAVAILABLE_MESSAGE, "extensions": {"code": SERVICE_UNAVAILABLE}}
    body: dict[str, Any] = {"errors": [error]}
    if media_type == APPLICATION_JSON:
        body = {"data": None, **body}  # as for every request error in the legacy type
    return HttpResponse(orjson.dumps(body), status=503, content_type=f"{media_type}; charset=utf-8")
