"""Admin for the catalog. Creates and edits go through the catalog services (the models' own
validation and the database triggers behind them, so the admin cannot create a cycle or a
stale category path); a product's stock is edited as a change (see ``ProductAdminForm``), and a
changelist save of several products locks them in the order checkouts do (``_save_formset``)."""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.forms import BaseModelFormSet
from django.http import HttpRequest

from backend.catalog.errors import CatalogError
from backend.catalog.models import Category, Product
from backend.catalog.services import (
    category_create,
    category_update,
    product_create,
    product_stock_adjust,
    product_update,
    products_lock,
)
from backend.core.admin import LookupValuesAdminMixin, ServiceAdminMixin, form_changes


class TopLevelCategoryFilter(admin.SimpleListFilter):
    """Filter by the top-level category a row lives under (one path-prefix query)."""

    title = "top-level category"
    parameter_name = "root"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        roots = Category.objects.filter(parent__isnull=True).only("id", "name")
        return [(str(root.pk), root.name) for root in roots]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if not self.value() or not self.value().isdigit():
            return queryset
        prefix = f"/{self.value()}/"
        if queryset.model is Category:
            return queryset.filter(path__startswith=prefix)
        return queryset.filter(category__path__startswith=prefix)


@admin.register(Category)
class CategoryAdmin(LookupValuesAdminMixin, ServiceAdminMixin, admin.ModelAdmin):
    """Moving a category is editing its parent: ``Category.clean`` refuses a cycle as a form
    error and ``category_update`` moves the subtree (the database trigger rewrites its paths in
    the same transaction)."""

    service_errors = (CatalogError,)

    list_display = ("name", "slug", "parent", "position", "depth_display", "path")
    list_select_related = ("parent",)
    list_filter = (TopLevelCategoryFilter,)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("parent",)
    readonly_fields = ("path", "created_at", "updated_at")
    fields = (
        "name",
        "slug",
        "description",
        "parent",
        "position",
        "path",
        "created_at",
        "updated_at",
    )
    ordering = ("path",)

    @admin.display(description="depth", ordering="path")
    def depth_display(self, category: Category) -> int:
        return category.depth

    def object_create(self, form: forms.ModelForm) -> Category:
        return category_create(**form.cleaned_data)

    def object_update(self, obj: Category, form: forms.ModelForm) -> None:
        if changes := form_changes(form):
            category_update(category=obj, **changes)


class ProductAdminForm(forms.ModelForm):
    """A product's form, on its change page and in its changelist row; stock is edited as a
    change, never as an absolute.

    The page carries the quantity it showed as a hidden initial value. Saving adds the
    difference between the typed and the shown quantity (``stock_delta``) through
    ``product_stock_adjust``, so units that checkouts took after the page was drawn stay taken
    instead of being written back.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stock_delta = 0  # units the edit adds (negative: removes); set by clean()
        if self.instance.pk is not None and "stock_quantity" in self.fields:
            self.fields["stock_quantity"].show_hidden_initial = True

    def clean(self) -> dict[str, Any]:
        cleaned_data = super().clean()
        if (
            self.instance.pk is None
            or "stock_quantity" not in cleaned_data
            or "stock_quantity" not in self.changed_data
        ):
            return cleaned_data
        shown = self._stock_shown()
        if shown is None:
            self.add_error(
                "stock_quantity",
                "The quantity this page showed was not sent: reload the page and edit again.",
            )
            return cleaned_data
        self.stock_delta = cleaned_data["stock_quantity"] - shown
        # The instance still holds the row as read for this request (construct_instance runs
        # after clean); the service re-checks on the locked row when it applies the change.
        in_stock = self.instance.stock_quantity
        if in_stock + self.stock_delta < 0:
            self.add_error(
                "stock_quantity",
                f"Only {in_stock} units are in stock now (this page showed {shown}), "
                f"so {-self.stock_delta} cannot be removed.",
            )
        return cleaned_data

    def _stock_shown(self) -> int | None:
        """The quantity the page was drawn with, as the hidden initial input sent it back."""
        bound_field = self["stock_quantity"]
        field = bound_field.field
        sent = field.hidden_widget().value_from_datadict(
            self.data, self.files, bound_field.html_initial_name
        )
        try:
            return field.to_python(sent)
        except ValidationError:
            return None


@admin.register(Product)
class ProductAdmin(LookupValuesAdminMixin, ServiceAdminMixin, admin.ModelAdmin):
    form = ProductAdminForm
    service_errors = (CatalogError,)
    list_display = ("name", "sku", "category", "price", "stock_quantity", "is_published")
    list_editable = ("price", "stock_quantity", "is_published")
    list_select_related = ("category",)
    # Not a filter listing every category: a seeded catalog has thousands. Filter by top-level
    # category here; a single category is one click from its changelist (?category__id__exact=).
    list_filter = ("is_published", TopLevelCategoryFilter)
    # SKU and slug are identifiers: exact (case-insensitive) match, not a substring scan.
    search_fields = ("name", "=sku", "=slug")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("category",)
    readonly_fields = ("created_at", "updated_at")
    # search_vector is a generated column: not editable, so never in the form.
    fields = (
        "name",
        "slug",
        "sku",
        "category",
        "description",
        "price",
        "stock_quantity",
        "is_published",
        "created_at",
        "updated_at",
    )
    # On a million-row catalog an unfiltered COUNT(*) costs more than the page itself.
    show_full_result_count = False

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> type[forms.ModelForm]:
        return super().get_changelist_form(request, form=ProductAdminForm, **kwargs)

    def _save_formset(self, request: HttpRequest, formset: BaseModelFormSet) -> None:
        """Save the changelist's edited rows in one transaction that first locks them all in
        ascending id (``products_lock``), the order checkouts lock products in.

        Django saves the rows one by one in the order the page listed them, and each service
        call locks its own row: without the locks taken first, a save of several rows and a
        checkout of the same products could each hold a row the other waits for, and
        PostgreSQL would abort one of them. ``_save_formset`` is the changelist's save step
        in Django's ``ModelAdmin`` (tests/catalog/test_admin.py races it against a checkout).
        """
        with transaction.atomic():
            products_lock(
                product_ids=[form.instance.pk for form in formset.forms if form.has_changed()]
            )
            super()._save_formset(request, formset)

    def object_create(self, form: ProductAdminForm) -> Product:
        return product_create(**form.cleaned_data)

    def object_update(self, obj: Product, form: ProductAdminForm) -> None:
        """``product_update`` with the changed fields, ``product_stock_adjust`` with the change
        of stock."""
        if changes := form_changes(form, exclude={"stock_quantity"}):
            product_update(product=obj, **changes)
        if form.stock_delta:
            product_stock_adjust(product_id=obj.pk, delta=form.stock_delta)
