"""Shared REST shim infrastructure: authentication, problem details, pagination, permissions.

The REST layer is a thin transport over the domain services: nothing here decides a business
rule. Errors leave every view as RFC 9457 problem details (``application/problem+json``) with
the same ``code`` values as the GraphQL API (every domain's ``ErrorCode``, ``UNAUTHENTICATED``,
``FORBIDDEN``); a domain error's HTTP status is the one its code names.
"""

import functools
import json
import logging
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.log import log_response
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from backend.accounts.roles import Role
from backend.api.graphql.permissions import has_permission
from backend.core.databases import (
    SERVICE_UNAVAILABLE,
    SERVICE_UNAVAILABLE_MESSAGE,
    database_unavailable,
)
from backend.core.errors import DomainError
from backend.core.json_input import JSONInputError, json_input_decode
from backend.core.numbers import integer_parse
from backend.core.text import NUL

if TYPE_CHECKING:  # DRF imports this module while rest_framework.views is half-initialised
    from rest_framework.views import APIView

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://nexus.dev/problems/"

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
INVALID = "INVALID"
INVALID_DETAIL = "The request is invalid; see errors."
NOT_FOUND = "NOT_FOUND"
# A server fault: what the client reads of it (the traceback goes to the log).
INTERNAL_ERROR = "INTERNAL_ERROR"
INTERNAL_ERROR_DETAIL = "Internal server error."

logger = logging.getLogger(__name__)


# --- Authentication -------------------------------------------------------------------------


class BearerTokenAuthentication(BaseAuthentication):
    """Trusts the user ``BearerTokenMiddleware`` loaded from ``Authorization: Bearer``.

    Only a bearer-authenticated user counts: a session cookie alone does not sign in to the
    REST API (so no CSRF exposure through cookies). A refused token (bad, expired, revoked)
    is a 401 ``UNAUTHENTICATED`` carrying the token error's reason, never anonymous data.
    """

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        django_request = request._request
        auth_error = getattr(django_request, "auth_error", None)
        if auth_error is not None:
            raise exceptions.AuthenticationFailed(auth_error.message, code=auth_error.code)
        if "Authorization" not in django_request.headers:
            return None
        user = getattr(django_request, "user", None) or AnonymousUser()
        return (user, None) if user.is_authenticated else None

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (with WWW-Authenticate), not 403, to anonymous requests.
        return 'Bearer realm="api"'


class BearerTokenAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


# --- Strict input ---------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else: DRF's CharField turns ``0`` or ``true`` into "0" and
    "True", a value the document (``type: string``) forbids."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a string.", code="invalid")
        return super().to_internal_value(data)  # type: ignore[no-any-return]


# What the document says of every input string: no NUL character (``BoundedJSONParser`` refuses
# a body holding one; PostgreSQL refuses it in text). An ECMA-262 pattern, as OpenAPI wants.
NO_NUL_PATTERN = "^[^\\u0000]*$"


class StrictCharFieldSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    """``StrictCharField`` in the document: DRF's string, stating the NUL rule unless one of
    the field's validators gives the pattern (drf-spectacular writes it; a slug's excludes NUL
    too)."""

    target_class = StrictCharField

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer_field(
            self.target, direction, bypass_extensions=True
        )
        if not any(isinstance(v, RegexValidator) for v in self.target.validators):
            schema.setdefault("pattern", NO_NUL_PATTERN)
        return schema


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer and nothing else: DRF's IntegerField reads "12", 12.0 and true."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError("Must be an integer.", code="invalid")
        return super().to_internal_value(data)  # type: ignore[no-any-return]


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean and nothing else: DRF's BooleanField reads "yes", 1 and "on"."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            raise serializers.ValidationError("Must be true or false.", code="invalid")
        return data


# A request body's object: a member it does not define is refused (400 INVALID naming it), not
# silently dropped, and the document says so (``additionalProperties: false``). A comment, not
# a docstring: drf-spectacular would give it to every subclass without one as its description.
class InputSerializer(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class InputSerializerSchema(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    target_class = InputSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer(
            self.target, direction, bypass_extensions=True
        )
        return {**schema, "additionalProperties": False}


class StrictQueryParameters:
    """A view mixin: the query string holds only the parameters the operation documents, each
    once. An unknown parameter (``?colour=red``, a misspelt ``?price_mn=``) is a 400 naming it,
    not silently ignored; a parameter given twice (``?price_min=1&price_min=9``) is a 400, not
    read as its last value. ``repeatable_query_parameters`` take several values.

    A list accepts its filter set's filters, the pagination's ``cursor`` and ``page_size`` and
    ``list_query_parameters``; another action accepts those ``action_query_parameters`` names
    for it, if any. tests/api/rest/test_query_parameters.py checks these sets against the
    OpenAPI document.
    """

    repeatable_query_parameters: frozenset[str] = frozenset()
    list_query_parameters: frozenset[str] = frozenset()
    action_query_parameters: dict[str, frozenset[str]] = {}

    def accepted_query_parameters(self) -> frozenset[str]:
        action = getattr(self, "action", None)
        if action != "list":
            return self.action_query_parameters.get(action or "", frozenset())
        names = set(self.list_query_parameters)
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is not None:
            names.update(filterset_class.base_filters)
        paginator = getattr(self, "paginator", None)
        if isinstance(paginator, CursorPagination):
            names.add(paginator.cursor_query_param)
            if paginator.page_size_query_param:
                names.add(paginator.page_size_query_param)
        return frozenset(names)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if not hasattr(self, request.method.lower()):
            return  # no handler for this method: dispatch answers 405, whatever the query
        accepted = self.accepted_query_parameters()
        problems: dict[str, list[str]] = {}
        for name, values in request.query_params.lists():
            if name not in accepted:
                problems[name] = ["Unknown parameter: this operation does not take it."]
            elif len(values) > 1 and name not in self.repeatable_query_parameters:
                problems[name] = ["Give this parameter once."]
        if problems:
            raise exceptions.ValidationError(problems)


# --- Permissions ----------------------------------------------------------------------------


class Requires(BasePermission):
    """``Requires.of(permission)``: the accounts permission helper, as a DRF permission.

    The same check as GraphQL's ``requires``: a Django model permission or a ``Role``.
    """

    permission: str | Role = Role.CUSTOMER

    @classmethod
    @functools.cache
    def of(cls, permission: str | Role) -> type["Requires"]:
        """One subclass per permission, built once (views ask on every request)."""
        return type(f"Requires_{permission}", (cls,), {"permission": permission})

    def has_permission(self, request: Request, view: "APIView") -> bool:
        return has_permission(request.user, self.permission)


def requirement_text(permission: str | Role | None) -> str:
    """The sentence each operation's description carries, as in the GraphQL schema."""
    if permission is None:
        return "Public: no authentication required."
    if isinstance(permission, Role):
        return f"Requires role: {permission.value}."
    return f"Requires permission: {permission}."


# --- Problem details ------------------------------------------------------------------------


class ProblemFieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="Input field at fault; null: whole.")
    code = serializers.CharField(help_text="Stable error code, as in the GraphQL API.")
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, extended with ``code`` and field-level ``errors``."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable error code, as in the GraphQL API.")
    errors = ProblemFieldErrorSerializer(many=True)


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser on ``backend.core.json_input``: a body nested too deep is a 400, not
    a RecursionError, and a NUL in any string is refused before a serializer sees it."""

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Any = None
    ) -> object:
        try:
            return json_input_decode(stream.read())
        except JSONInputError as error:
            raise exceptions.ParseError(str(error)) from None


class ProblemJSONRenderer(JSONRenderer):
    media_type = PROBLEM_CONTENT_TYPE


def _problem_body(
    status: int, code: str, detail: str, errors: Iterable[tuple[str | None, str, str]] = ()
) -> dict[str, Any]:
    return {
        "type": PROBLEM_TYPE_BASE + code.lower().replace("_", "-"),
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": [
            {"field": field, "code": error_code, "message": message}
            for field, error_code, message in errors
        ],
    }


def _problem(
    status: int,
    code: str,
    detail: str,
    errors: Iterable[tuple[str | None, str, str]] = (),
    headers: dict[str, str] | None = None,
) -> Response:
    body = _problem_body(status, code, detail, errors)
    return Response(body, status=status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def server_error_problem(request: HttpRequest) -> HttpResponse:
    """A server fault outside a REST view's own handling (a middleware, a plain Django view
    under ``/api/``) as the same problem+json 500 as inside one: ``backend.api.urls``' handler500,
    which Django calls (with ``DEBUG`` off) after logging the traceback."""
    body = _problem_body(500, INTERNAL_ERROR, INTERNAL_ERROR_DETAIL)
    return HttpResponse(json.dumps(body), status=500, content_type=PROBLEM_CONTENT_TYPE)


def service_unavailable_problem(request: HttpRequest) -> HttpResponse:
    """The problem+json 503 of a request whose database could not be reached (registered
    with ``backend.core.databases``, which adds ``Retry-After``)."""
    body = _problem_body(503, SERVICE_UNAVAILABLE, SERVICE_UNAVAILABLE_MESSAGE)
    return HttpResponse(json.dumps(body), status=503, content_type=PROBLEM_CONTENT_TYPE)


# The argument that names the object a REST URL addresses; a NOT_FOUND about any other
# argument (a product's ``category``) is a reference in the body: the client's bad input.
_ADDRESSED_OBJECT_FIELD = "id"


def _domain_problem(error: DomainError, field_names: Mapping[str, str]) -> Response:
    """A domain error as problem details: the status its code names, ``errors`` one per
    failure, with each domain argument path in the view's wire names.

    ``field_names`` renames a path's first segment where the view's wire name differs from the
    domain's (snake_case, like REST bodies): the orders view maps ``idempotency_key`` to the
    ``Idempotency-Key`` header. ``retry_after`` becomes the Retry-After header. A refusal
    with status 403 is coded FORBIDDEN at the top, as every 403 of this API and as GraphQL
    answers it; ``errors`` keeps the domain's own code (``PERMISSION_DENIED``).
    """
    status = error.code.status
    if status is HTTPStatus.NOT_FOUND and error.field not in (None, _ADDRESSED_OBJECT_FIELD):
        status = HTTPStatus.BAD_REQUEST
    retry_after = error.extras.get("retry_after")
    return _problem(
        int(status),
        FORBIDDEN if status is HTTPStatus.FORBIDDEN else error.code.value,
        error.message,
        [
            (_wire_field(detail.field, field_names), detail.code.value, detail.message)
            for detail in error.details
        ],
        {"Retry-After": str(retry_after)} if retry_after else None,
    )


def _drf_error_code(detail: Any) -> str:
    """A field error's code: a domain code a field raised (upper case, e.g. PRICE_INVALID, so
    both APIs name a rule alike), else INVALID (DRF's own codes are lower case)."""
    code = getattr(detail, "code", None)
    return code if isinstance(code, str) and code.isupper() else INVALID


def _wire_field(field: str | None, field_names: Mapping[str, str]) -> str | None:
    if field is None:
        return None
    head, dot, rest = field.partition(".")
    return field_names.get(head, head) + dot + rest


def _drf_field_errors(detail: Any, prefix: str = "") -> list[tuple[str | None, str, str]]:
    """Flatten DRF's nested ``{field: [ErrorDetail]}`` into ``(field.path, code, message)``."""
    if isinstance(detail, dict):
        found = []
        for key, value in detail.items():
            name = None if key in ("non_field_errors", NON_FIELD_ERRORS) else str(key)
            path = f"{prefix}.{name}" if prefix and name else (name or prefix)
            found.extend(_drf_field_errors(value, path))
        return found
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return [(prefix or None, _drf_error_code(item), str(item)) for item in detail]
        found = []
        for index, item in enumerate(detail):
            found.extend(_drf_field_errors(item, f"{prefix}.{index}" if prefix else str(index)))
        return found
    return [(prefix or None, _drf_error_code(detail), str(detail))]


def _django_validation_problem(error: DjangoValidationError) -> Response:
    """A selector's ``ValidationError`` (bad search text, inverted range): a 400 INVALID."""
    if hasattr(error, "error_dict"):
        errors = [
            (None if field == NON_FIELD_ERRORS else field, INVALID, " ".join(e.messages))
            for field, items in error.error_dict.items()
            for e in items
        ]
    else:
        errors = [(None, INVALID, message) for message in error.messages]
    return _problem(400, INVALID, errors[0][2], errors)


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF ``EXCEPTION_HANDLER``: every domain and DRF error as problem details.

    A database that could not be reached is left to the platform (``None``: DRF raises it on),
    which answers 503 (``service_unavailable_problem``) or runs a replica's failed reads again.
    Anything else is a server fault (a bug): logged with its traceback, and answered as a
    problem+json 500 coded INTERNAL_ERROR that names nothing of it, whatever ``DEBUG`` says,
    so a client of the REST API reads one error format for every status.
    """
    if database_unavailable(exc):
        return None
    if isinstance(exc, DomainError):  # before Django's ValidationError: CatalogError is one
        return _domain_problem(exc, getattr(context.get("view"), "error_field_names", {}))
    if isinstance(exc, DjangoValidationError):
        return _django_validation_problem(exc)
    if isinstance(exc, Http404):
        return _problem(404, NOT_FOUND, "Not found.")
    if isinstance(exc, exceptions.ValidationError):
        errors = _drf_field_errors(exc.detail)
        codes = {code for _, code, _ in errors}
        if len(codes) == 1 and INVALID not in codes:  # one domain rule: its code and message
            return _problem(400, codes.pop(), errors[0][2], errors)
        return _problem(400, INVALID, INVALID_DETAIL, errors)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        reason = exc.get_codes() if isinstance(exc, exceptions.AuthenticationFailed) else None
        errors = [(None, str(reason), str(exc.detail))] if isinstance(reason, str) else []
        return _problem(
            401,
            UNAUTHENTICATED,
            str(exc.detail),
            errors,
            {"WWW-Authenticate": 'Bearer realm="api"'},
        )
    if isinstance(exc, exceptions.PermissionDenied):
        return _problem(403, FORBIDDEN, str(exc.detail))
    if isinstance(exc, DjangoPermissionDenied):  # a selector's staff-only filter
        return _problem(403, FORBIDDEN, str(exc))
    if isinstance(exc, exceptions.APIException):
        code = str(exc.default_code).upper()
        headers = {"Retry-After": str(exc.wait)} if getattr(exc, "wait", None) else None
        return _problem(exc.status_code, code, str(exc.detail), headers=headers)
    view = context.get("view")
    response = _problem(500, INTERNAL_ERROR, INTERNAL_ERROR_DETAIL)
    # Logged as Django logs a 500, once: log_response marks the response, so Django's handler
    # (and request_signals_middleware) do not log it again without the traceback.
    log_response(
        "Server fault in %s",
        type(view).__name__ if view else "a REST view",
        response=response,
        request=context.get("request"),
        logger=logger,
        exception=exc,
    )
    return response


def problem_responses(
    *statuses: int, examples: Iterable[OpenApiExample] = ()
) -> dict[tuple[int, str], Any]:
    """``extend_schema(responses=...)`` entries for an operation's error statuses."""
    described = {
        400: "Invalid input (code INVALID or a domain code); field errors in `errors`.",
        401: "Not signed in, or the bearer token was refused (code UNAUTHENTICATED).",
        403: "Signed in without the required permission (code FORBIDDEN).",
        404: "No such object, or not visible to you (code NOT_FOUND).",
        409: "Refused by the current state (stock, status, uniqueness); see `code`.",
        429: "Too many attempts; retry after the Retry-After header's seconds.",
    }
    examples = list(examples)
    return {
        (status, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            ProblemSerializer,
            description=described[status],
            examples=[e for e in examples if e.status_codes == [str(status)]] or None,
        )
        for status in statuses
    }


def problem_example(
    status: int, code: str, detail: str, field: str | None = None, message: str | None = None
) -> OpenApiExample:
    """An ``OpenApiExample`` of a problem response; the field error's ``message`` is ``detail``
    unless given (input validation says "see errors" in ``detail``)."""
    return OpenApiExample(
        code,
        value={
            "type": PROBLEM_TYPE_BASE + code.lower().replace("_", "-"),
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
            "code": code,
            "errors": [{"field": field, "code": code, "message": message or detail}],
        },
        response_only=True,
        status_codes=[str(status)],
    )


# --- Pagination -----------------------------------------------------------------------------


class StableCursorPagination(CursorPagination):
    """Cursor (keyset) pagination: 20 by default, ``page_size`` up to 100.

    Views set ``ordering`` to an indexed ordering that ends in a unique column, so pages
    never skip or repeat a row while rows are inserted. One SQL statement per page.
    """

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-created_at", "-id")

    def get_ordering(self, request: Request, queryset: Any, view: "APIView") -> tuple[str, ...]:
        # A view may choose its ordering per request (products: ?ordering=price).
        chosen = getattr(view, "cursor_ordering", None)
        return tuple(chosen(request)) if chosen else tuple(self.ordering)

    def paginate_queryset(
        self, queryset: Any, request: Request, view: "APIView | None" = None
    ) -> list[Any] | None:
        self.queryset = queryset  # decode_cursor reads the position's field from it
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> Any:
        invalid = exceptions.ValidationError({"cursor": ["Invalid cursor."]})
        if request.query_params.get(self.cursor_query_param) == "":  # DRF reads it as page 1
            raise invalid
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:  # DRF says 404; a mangled cursor is the client's input
            raise invalid from None
        position = cursor.position if cursor is not None else None
        if position is not None and not self._position_readable(position):
            raise invalid
        return cursor

    def _position_readable(self, position: str) -> bool:
        """Whether a cursor's position (the first ordering column's value, as text: a client
        can forge it) is a value of that column, which PostgreSQL can then compare: a NUL in
        text, a numeral beyond the column's digits or range, or a word where a number goes
        would otherwise fail the page's statement."""
        name = self.ordering[0].lstrip("-")
        query = self.queryset.query
        field = (
            query.annotations[name].output_field
            if name in query.annotations
            else self.queryset.model._meta.get_field(name)
        )
        if NUL in position:
            return False
        try:
            field.clean(position, None)
        except DjangoValidationError:
            return False
        return True

    def get_schema_operation_parameters(self, view: "APIView") -> list[dict[str, Any]]:
        """DRF's parameters with the rules ``get_page_size`` and ``decode_cursor`` apply."""
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
            if parameter["name"] == self.cursor_query_param:
                parameter["schema"]["minLength"] = 1  # an empty cursor is refused
        return parameters

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            return integer_parse(raw, minimum=1, maximum=self.max_page_size)
        except ValueError as error:
            raise exceptions.ValidationError({"page_size": [str(error)]}) from None
