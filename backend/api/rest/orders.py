"""REST views for orders: thin over ``backend.orders.services`` (the status machine lives there)."""

from collections.abc import Callable
from typing import Any

import django_filters
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Prefetch, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from backend.accounts.roles import Role
from backend.api.rest.catalog import MAX_ID, IdFilter, MoneySerializer, id_parameter
from backend.api.rest.framework import (
    INVALID,
    INVALID_DETAIL,
    InputSerializer,
    Requires,
    StrictIntegerField,
    StrictQueryParameters,
    problem_example,
    problem_responses,
    requirement_text,
)
from backend.orders import selectors, services
from backend.orders.models import Order, OrderItem, OrderStatus


def _money(amount: Any, currency: str) -> dict[str, str]:
    return {"amount": f"{amount:.2f}", "currency": currency}


class OrderItemSerializer(serializers.Serializer):
    product = serializers.IntegerField(
        allow_null=True, help_text="Null once the product is deleted."
    )
    product_name = serializers.CharField()
    product_sku = serializers.CharField()
    unit_price = MoneySerializer()
    quantity = serializers.IntegerField()
    line_total = MoneySerializer()


class OrderSerializer(serializers.ModelSerializer):
    """An order with its lines; amounts in the order's own currency."""

    subtotal = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()
    items = serializers.SerializerMethodField()
    next_statuses = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "status",
            "email",
            "currency",
            "subtotal",
            "total",
            "items",
            "next_statuses",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(MoneySerializer)
    def get_subtotal(self, order: Order) -> dict[str, str]:
        return _money(order.subtotal, order.currency)

    @extend_schema_field(MoneySerializer)
    def get_total(self, order: Order) -> dict[str, str]:
        return _money(order.total, order.currency)

    @extend_schema_field(OrderItemSerializer(many=True))
    def get_items(self, order: Order) -> list[dict[str, Any]]:
        # Reads the prefetched lines; the order's currency applies to each.
        return [
            {
                "product": item.product_id,
                "product_name": item.product_name,
                "product_sku": item.product_sku,
                "unit_price": _money(item.unit_price, order.currency),
                "quantity": item.quantity,
                "line_total": _money(item.line_total, order.currency),
            }
            for item in order.items.all()
        ]

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(OrderStatus.choices)))
    def get_next_statuses(self, order: Order) -> list[str]:
        return [str(s) for s in services.order_next_statuses(order)]


@extend_schema_field(
    {"type": "integer", "minimum": 1, "maximum": settings.ORDER_MAX_QUANTITY_PER_LINE}
)
class QuantityField(StrictIntegerField):
    """The range is the service's rule (QUANTITY_INVALID, its own code), stated in the
    document here rather than checked twice."""


class OrderLinesSerializer(serializers.ListSerializer):
    """An order's lines. Their count is the service's rule (EMPTY_ORDER, TOO_MANY_ITEMS),
    stated in the document by ``OrderLinesSchema`` rather than checked twice."""


class OrderLinesSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    target_class = OrderLinesSerializer

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer_field(
            self.target, direction, bypass_extensions=True
        )
        return {**schema, "minItems": 1, "maxItems": settings.ORDER_MAX_LINES}


class OrderLineSerializer(InputSerializer):
    product_id = StrictIntegerField(min_value=1, max_value=MAX_ID)
    quantity = QuantityField()

    class Meta:
        list_serializer_class = OrderLinesSerializer


class OrderCreateSerializer(InputSerializer):
    lines = OrderLineSerializer(
        many=True, help_text="One line per product (each product once: DUPLICATE_PRODUCT)."
    )


@extend_schema_field(
    id_parameter(
        "Staff only (403 FORBIDDEN for anyone else): only the orders of this customer (a user id)."
    )
)
class CustomerFilter(IdFilter):
    pass


class OrderFilterSet(django_filters.FilterSet):
    """The list's query parameters, checked here; the filtering itself is
    ``selectors.order_list``. An unknown status is a 400 INVALID naming ``status``."""

    # Repeated, not comma separated: django-filter's (and OpenAPI's form/explode) convention.
    status = django_filters.MultipleChoiceFilter(
        choices=OrderStatus.choices,
        help_text="Only orders in one of these statuses; repeat the parameter for several "
        "(`?status=PAID&status=SHIPPED`).",
    )

    customer = CustomerFilter()

    class Meta:
        model = Order
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet[Order]) -> QuerySet[Order]:
        return selectors.order_list(
            viewer=self.request.user,
            orders=queryset,
            statuses=[OrderStatus(value) for value in self.form.cleaned_data["status"]],
            customer_id=self.form.cleaned_data["customer"],
        )


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    # The service's rule (IDEMPOTENCY_KEY_INVALID), stated in the document.
    {"type": "string", "minLength": 1, "maxLength": services.IDEMPOTENCY_KEY_MAX_LENGTH},
    OpenApiParameter.HEADER,
    required=True,
    description="1-255 characters, unique per order attempt. Repeating a request with the "
    "same key returns the order already placed; the same key with other lines is refused "
    "(IDEMPOTENCY_KEY_REUSED).",
)
_ORDER_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)
_TRANSITION_ERRORS = problem_responses(
    401,
    403,
    404,
    409,
    examples=[
        problem_example(
            409,
            "ORDER_TRANSITION_INVALID",
            "An order cannot move from DELIVERED to CANCELLED.",
            "status",
        )
    ],
)


def _transition_schema(summary: str, permission: Role, rule: str) -> Any:
    return extend_schema(
        summary=summary,
        description=f"{rule} {requirement_text(permission)}",
        parameters=[_ORDER_ID],
        request=None,
        responses={200: OrderSerializer, **_TRANSITION_ERRORS},
    )


@extend_schema_view(
    list=extend_schema(
        summary="List orders",
        description="A customer sees their own orders, staff every order; newest first, "
        "optionally only those in the given statuses (and, for staff, of one customer). "
        + requirement_text(Role.CUSTOMER),
        responses={
            200: OrderSerializer(many=True),
            **problem_responses(
                400,
                401,
                403,
                examples=[
                    problem_example(
                        400,
                        INVALID,
                        INVALID_DETAIL,
                        "status",
                        "Select a valid choice. LOST is not one of the available choices.",
                    )
                ],
            ),
        },
    ),
    retrieve=extend_schema(
        summary="Get an order",
        description="Another customer's order is a 404. " + requirement_text(Role.CUSTOMER),
        parameters=[_ORDER_ID],
        responses={200: OrderSerializer, **problem_responses(401, 404)},
    ),
    create=extend_schema(
        summary="Place an order",
        description="Takes the stock of every line or refuses the whole order. A customer "
        "may hold at most ORDER_MAX_PENDING_PER_CUSTOMER unpaid (PENDING) orders and "
        "ORDER_MAX_UNPAID_UNITS_PER_PRODUCT units of one product across them (409 "
        "TOO_MANY_PENDING_ORDERS, UNPAID_UNITS_LIMIT). " + requirement_text(Role.CUSTOMER),
        parameters=[IDEMPOTENCY_KEY],
        request=OrderCreateSerializer,
        examples=[
            OpenApiExample(
                "Two lines",
                value={
                    "lines": [{"product_id": 1, "quantity": 2}, {"product_id": 7, "quantity": 1}]
                },
                request_only=True,
            )
        ],
        responses={
            201: OrderSerializer,
            **problem_responses(
                400,
                401,
                409,
                examples=[
                    problem_example(
                        409,
                        "INSUFFICIENT_STOCK",
                        "Not enough units of product 7 are in stock.",
                        "lines.1.product_id",
                    ),
                    problem_example(
                        409,
                        "TOO_MANY_PENDING_ORDERS",
                        "You have 5 unpaid orders and may have at most 5 at once: pay or "
                        "cancel one before placing another.",
                    ),
                    problem_example(
                        400, "EMPTY_ORDER", "An order needs at least one line.", "lines"
                    ),
                ],
            ),
        },
    ),
    cancel=_transition_schema(
        "Cancel an order",
        Role.CUSTOMER,
        "The owner or staff, while PENDING or PAID; the units go back on sale.",
    ),
    pay=_transition_schema(
        "Pay for an order",
        Role.CUSTOMER,
        "The owner only, while PENDING. The charge runs asynchronously: the response shows "
        "the order still PENDING; it becomes PAID when the payment succeeds.",
    ),
    ship=_transition_schema("Mark an order shipped", Role.STAFF, "PAID -> SHIPPED."),
    deliver=_transition_schema("Mark an order delivered", Role.STAFF, "SHIPPED -> DELIVERED."),
)
class OrderViewSet(
    StrictQueryParameters,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Order],
):
    repeatable_query_parameters = frozenset({"status"})
    serializer_class = OrderSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = OrderFilterSet
    lookup_value_regex = "[0-9]+"  # ASCII: \d also matches digits of other scripts
    # Domain argument -> wire name in a problem's ``errors``; the rest are the body's names.
    error_field_names = {"idempotency_key": "Idempotency-Key"}

    def get_queryset(self) -> QuerySet[Order]:
        return selectors.orders_visible_to(self.request.user).prefetch_related(
            Prefetch("items", queryset=OrderItem.objects.order_by("id"))
        )

    def filter_queryset(self, queryset: QuerySet[Order]) -> QuerySet[Order]:
        # The filters belong to the list: an order's URL names it whatever its status.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def cursor_ordering(self, request: Request) -> tuple[str, ...]:
        return selectors.ORDERS_NEWEST_FIRST

    def get_permissions(self) -> list[BasePermission]:
        role = Role.STAFF if self.action in {"ship", "deliver"} else Role.CUSTOMER
        return [Requires.of(role)()]

    def create(self, request: Request) -> Response:
        body = OrderCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = services.order_place(
            customer=request.user,
            lines=[services.OrderLine(**line) for line in body.validated_data["lines"]],
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        return Response(self._fresh(order.pk), status=status.HTTP_201_CREATED)

    def _transition(self, request: Request, pk: str, move: Callable[..., Order]) -> Response:
        actor: AbstractBaseUser = request.user
        move(order_id=int(pk), actor=actor)
        return Response(self._fresh(int(pk)))

    def _fresh(self, order_id: int) -> dict[str, Any]:
        return OrderSerializer(self.get_queryset().get(pk=order_id)).data

    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        return self._transition(request, pk, services.order_cancel)

    @action(detail=True, methods=["post"])
    def pay(self, request: Request, pk: str) -> Response:
        return self._transition(request, pk, services.order_pay)

    @action(detail=True, methods=["post"])
    def ship(self, request: Request, pk: str) -> Response:
        return self._transition(request, pk, services.order_ship)

    @action(detail=True, methods=["post"])
    def deliver(self, request: Request, pk: str) -> Response:
        return self._transition(request, pk, services.order_deliver)
