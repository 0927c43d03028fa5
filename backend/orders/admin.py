"""Admin for orders: a read-only view for staff.

Totals, lines and the status history are written only by the order services (which validate,
lock and record an ``OrderEvent`` for every change), so the admin never edits them directly.
"""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from backend.core.admin import LookupValuesAdminMixin
from backend.orders.models import Order, OrderEvent, OrderItem


class ReadOnlyAdminMixin:
    """Viewing needs the view permission; adding, changing and deleting are refused."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class OrderItemInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderItem
    fields = ("product", "product_name", "product_sku", "unit_price", "quantity", "line_total")
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderItem]:
        return super().get_queryset(request).select_related("product")


class OrderEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderEvent
    fields = ("created_at", "from_status", "to_status", "actor", "note")
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderEvent]:
        return super().get_queryset(request).select_related("actor")


@admin.register(Order)
class OrderAdmin(LookupValuesAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("number", "email", "customer", "status", "total", "currency", "created_at")
    list_select_related = ("customer",)
    list_filter = ("status", "created_at")
    search_fields = ("=number", "email")
    date_hierarchy = "created_at"
    inlines = (OrderItemInline, OrderEventInline)
    fields = (
        "number",
        "customer",
        "email",
        "status",
        "currency",
        "subtotal",
        "total",
        "idempotency_key",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    show_full_result_count = False


@admin.register(OrderEvent)
class OrderEventAdmin(LookupValuesAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("order", "from_status", "to_status", "actor", "created_at")
    list_select_related = ("order", "actor")
    list_filter = ("to_status", "created_at")
    search_fields = ("=order__number",)
    fields = ("order", "from_status", "to_status", "actor", "note", "created_at")
    readonly_fields = fields
