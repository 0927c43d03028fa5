"""Admin for the catalog. Writes go through the models' own validation and the database
triggers, so the admin cannot create a cycle or a stale category path."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from backend.catalog.models import Category, Product


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
class CategoryAdmin(admin.ModelAdmin):
    """Moving a category is editing its parent: ``Category.clean`` refuses a cycle as a form
    error and the database trigger rewrites the subtree's paths in the same transaction."""

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


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
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
