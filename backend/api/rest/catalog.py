"""REST views for the catalog: thin over ``backend.catalog``: ``services`` for writes,
``selectors`` and ``policies`` for reads (every rule lives there)."""

import functools
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, ClassVar

import django_filters
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_slug
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from backend.api.rest.framework import (
    InputSerializer,
    Requires,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictQueryParameters,
    problem_example,
    problem_responses,
    requirement_text,
)
from backend.catalog import selectors, services
from backend.catalog.errors import CatalogError, CatalogErrorCode
from backend.catalog.models import Category, Product
from backend.catalog.policies import stock_visible_to
from backend.core.numbers import (
    DECIMAL_PATTERN,
    MAX_ID,
    NUMBER_MAX_LENGTH,
    decimal_parse,
    integer_parse,
)

# --- Money ----------------------------------------------------------------------------------


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "pattern": DECIMAL_PATTERN.pattern,
        "maxLength": NUMBER_MAX_LENGTH,
    }
)
class DecimalStringField(serializers.DecimalField):
    """A decimal as a JSON string ("12.50"), read by ``backend.core.numbers`` (ASCII digits,
    bounded exponent), as GraphQL's Decimal is."""

    def to_internal_value(self, data: Any) -> Decimal:
        if not isinstance(data, str):
            raise serializers.ValidationError('Must be a decimal string, e.g. "12.50".')
        try:
            return decimal_parse(data)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None


class MoneySerializer(serializers.Serializer):
    amount = DecimalStringField(
        max_digits=None,  # the service decides (PRICE_INVALID), as for GraphQL
        decimal_places=None,
        coerce_to_string=True,
        help_text='A decimal string, e.g. "12.50".',
    )
    currency = StrictCharField(help_text="ISO 4217 code; only the store currency.")


# A price as a client writes it: what the catalog stores (numeric(12, 2), not negative), in
# plain digits. Stated in the document, and refused (PRICE_INVALID) before the service.
PRICE_PATTERN = re.compile(r"^[0-9]{1,10}(\.[0-9]{1,2})?$", re.ASCII)


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "pattern": PRICE_PATTERN.pattern,
        "maxLength": 13,
    }
)
class PriceAmountField(DecimalStringField):
    """A price's amount: a decimal string of at most 10 digits before the point and 2 after,
    not negative, without exponent or sign ("12.50"), as the document states."""

    def to_internal_value(self, data: Any) -> Decimal:
        amount = super().to_internal_value(data)  # not a string, or unreadable: INVALID
        if not PRICE_PATTERN.fullmatch(data):
            raise serializers.ValidationError(
                "A price has at most 10 digits before the point and 2 after, is not negative "
                'and has no exponent, e.g. "12.50".',
                code=CatalogErrorCode.PRICE_INVALID.value,
            )
        return amount


class MoneyInputSerializer(InputSerializer, MoneySerializer):
    """A price sent by a client: in the store currency, exactly as configured ("USD")."""

    amount = PriceAmountField(
        max_digits=None, decimal_places=None, coerce_to_string=True, help_text='E.g. "12.50".'
    )

    currency = serializers.ChoiceField(
        choices=[settings.STORE_CURRENCY],
        error_messages={"invalid_choice": f"The store sells in {settings.STORE_CURRENCY} only."},
        help_text="The store currency (ISO 4217).",
    )


@extend_schema_field(MoneySerializer)
class MoneyField(serializers.Field):
    """``{"amount": "12.50", "currency": "USD"}``: a decimal string, never a float."""

    def to_representation(self, value: Decimal) -> dict[str, str]:
        return {"amount": f"{value:.2f}", "currency": settings.STORE_CURRENCY}


@extend_schema_field(MoneyInputSerializer)
class MoneyInputField(MoneyField):
    def to_internal_value(self, data: Any) -> Decimal:
        money = MoneyInputSerializer(data=data)
        money.is_valid(raise_exception=True)
        return money.validated_data["amount"]


# --- Serializers ----------------------------------------------------------------------------

# Column ranges, stated in the OpenAPI document and checked before the services see a value.
MAX_INT32 = 2**31 - 1  # integer columns (stock, position)
MAX_POSITION = MAX_INT32
MAX_PRICE = Decimal("9999999999.99")  # numeric(12, 2)


def _column_length(model: type[Category | Product], field: str) -> int:
    length = model._meta.get_field(field).max_length
    assert length is not None
    return length


class CategorySerializer(serializers.ModelSerializer):
    parent = serializers.IntegerField(source="parent_id", allow_null=True, read_only=True)
    depth = serializers.IntegerField(read_only=True, help_text="0 for a top-level category.")

    class Meta:
        model = Category
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "parent",
            "position",
            "path",
            "depth",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CategoryWriteSerializer(InputSerializer):
    """Shapes only; lengths, uniqueness and cycles are checked by the services."""

    name = StrictCharField(max_length=_column_length(Category, "name"))
    slug = StrictCharField(max_length=_column_length(Category, "slug"), validators=[validate_slug])
    description = StrictCharField(required=False, allow_blank=True)
    parent = StrictIntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        help_text="Parent category id; null: top level.",
    )
    position = StrictIntegerField(required=False, min_value=0, max_value=MAX_POSITION)


class ProductSerializer(serializers.ModelSerializer):
    price = MoneyField()
    category = serializers.IntegerField(source="category_id", read_only=True)
    in_stock = serializers.BooleanField(read_only=True)
    stock_quantity = serializers.SerializerMethodField(
        help_text="Units available; null unless the viewer is staff (storefronts use in_stock)."
    )

    class Meta:
        model = Product
        fields = [
            "id",
            "name",
            "slug",
            "sku",
            "description",
            "price",
            "stock_quantity",
            "in_stock",
            "category",
            "is_published",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_stock_quantity(self, product: Product) -> int | None:
        request = self.context.get("request")
        viewer = None if request is None else request.user
        return product.stock_quantity if stock_visible_to(viewer) else None


class CategoryFacetSerializer(serializers.Serializer):
    category = CategorySerializer()
    count = serializers.IntegerField(
        help_text="Products of the list in exactly this category, not in its subcategories: "
        "what adding `category_exact` (this id) to the query lists."
    )


class PriceRangeFacetSerializer(serializers.Serializer):
    min = DecimalStringField(
        max_digits=12, decimal_places=2, coerce_to_string=True, help_text="Lowest price."
    )
    max = DecimalStringField(
        max_digits=12, decimal_places=2, coerce_to_string=True, help_text="Highest price."
    )
    count = serializers.IntegerField(
        help_text="Products of the list priced from min to max, both inclusive: what adding "
        "`price_min` and `price_max` with these values lists."
    )


class InStockFacetSerializer(serializers.Serializer):
    count = serializers.IntegerField(
        help_text="Products of the list in stock: what adding `in_stock=true` lists."
    )


class ProductFacetsSerializer(serializers.Serializer):
    """Counts over the whole filtered list (every page of it, the search included), as
    GraphQL's `ProductConnection.facets`."""

    categories = CategoryFacetSerializer(
        many=True,
        help_text=f"The categories holding the most products of the list (at most "
        f"{selectors.FACET_CATEGORIES_MAX}), most first, then by name.",
    )
    price_ranges = PriceRangeFacetSerializer(
        many=True,
        help_text=f"At most {selectors.FACET_PRICE_RANGES} consecutive price ranges holding "
        "about as many products each, cheapest first, bounded by round prices.",
    )
    in_stock = InStockFacetSerializer()

    def to_representation(self, instance: selectors.ProductFacets) -> dict[str, Any]:
        return super().to_representation(
            {
                "categories": instance.categories,
                "price_ranges": instance.price_ranges,
                "in_stock": {"count": instance.in_stock},
            }
        )


# Named as drf-spectacular names the pagination's own schema of a product list, which this
# documents with `facets` added, so the document's schema name stays the one clients know.
@extend_schema_serializer(many=False)
class PaginatedProductListSerializer(serializers.Serializer):
    """A page of products (cursor pagination) and, with `facets=true`, the counts over the
    whole filtered list."""

    next = serializers.URLField(allow_null=True, help_text="The next page; null on the last.")
    previous = serializers.URLField(
        allow_null=True, help_text="The previous page; null on the first."
    )
    results = ProductSerializer(many=True)
    facets = ProductFacetsSerializer(
        required=False, help_text="Only with `facets=true` (one more statement)."
    )


class ProductSuggestionsSerializer(serializers.Serializer):
    results = serializers.ListField(
        child=serializers.CharField(),
        max_length=selectors.SUGGEST_MAX,
        help_text="Product names, in alphabetical order, each once.",
    )


class ProductWriteSerializer(InputSerializer):
    """Shapes only; every catalog rule is the service's (SKU_TAKEN, PRICE_INVALID, ...)."""

    name = StrictCharField(max_length=_column_length(Product, "name"))
    slug = StrictCharField(max_length=_column_length(Product, "slug"), validators=[validate_slug])
    sku = StrictCharField(max_length=_column_length(Product, "sku"))
    description = StrictCharField(required=False, allow_blank=True)
    price = MoneyInputField()
    category = StrictIntegerField(min_value=1, max_value=MAX_ID, help_text="Category id.")
    stock_quantity = StrictIntegerField(
        required=False,
        min_value=0,
        max_value=MAX_INT32,
        help_text="Initial stock (create only; later use stock-adjust).",
    )
    is_published = StrictBooleanField(required=False)


class StockAdjustSerializer(InputSerializer):
    delta = StrictIntegerField(
        min_value=-MAX_INT32, max_value=MAX_INT32, help_text="Units to add; negative removes."
    )


# --- Query parameters -----------------------------------------------------------------------


class QueryNumberField(forms.Field):
    """A query parameter read by ``backend.core.numbers``; given but empty (``?price_min=``)
    is refused rather than ignored."""

    def __init__(self, *, parse: Callable[[str], object], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.parse = parse

    def to_python(self, value: str | None) -> object:
        if value is None:
            return None
        if value == "":
            raise forms.ValidationError("Give a value, or leave the parameter out.")
        try:
            return self.parse(value)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None


class IdFilter(django_filters.Filter):
    """An id (1..2**63-1, ASCII digits) as a query parameter."""

    field_class = QueryNumberField

    def __init__(self, **kwargs: Any) -> None:
        parse = functools.partial(integer_parse, minimum=1, maximum=MAX_ID)
        super().__init__(parse=parse, **kwargs)


def id_parameter(description: str) -> dict[str, Any]:
    """The OpenAPI schema of an ``IdFilter`` parameter (drf-spectacular ignores help_text on a
    filter whose field is not django-filter's own, so the description is stated here)."""
    return {
        "type": "integer",
        "format": "int64",
        "minimum": 1,
        "maximum": MAX_ID,
        "description": description,
    }


# --- What the category and product endpoints share ------------------------------------------


class _CatalogViewSet[M: Category | Product](
    StrictQueryParameters,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[M],
):
    # Anyone reads; each write action needs the Django permission ``write_permissions`` names.
    # A list is filtered by ``filterset_class`` (which validates the query string and calls the
    # selector) and ordered by ``?ordering=``, one of the keys of ``orderings``.
    write_permissions: ClassVar[dict[str, str]]
    orderings: ClassVar[Mapping[str, object]]
    # Read by drf-spectacular to document the filters; filter_queryset below applies them.
    filter_backends = [DjangoFilterBackend]
    list_query_parameters = frozenset({"ordering"})  # read by cursor_ordering
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def filter_queryset(self, queryset: QuerySet[M]) -> QuerySet[M]:
        if self.action != "list":
            return queryset  # filters apply to the list only
        filterset = self.filterset_class(
            self.request.query_params, queryset=queryset, request=self.request
        )
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        return filterset.qs

    def ordering_key(self, request: Request) -> str | None:
        """The ``?ordering=`` key, None without one; a 400 for one not in ``orderings``."""
        key = request.query_params.get("ordering")
        if key is not None and key not in self.orderings:
            raise serializers.ValidationError(
                {"ordering": [f"Must be one of: {', '.join(self.orderings)}."]}
            )
        return key

    def get_permissions(self) -> list[BasePermission]:
        permission = self.write_permissions.get(self.action or "")
        return [Requires.of(permission)()] if permission else [AllowAny()]


# --- Categories -----------------------------------------------------------------------------


_CATEGORY_PERMISSIONS: dict[str, str] = {
    "create": "catalog.add_category",
    "partial_update": "catalog.change_category",
    "destroy": "catalog.delete_category",
}
_CATEGORY_EXAMPLE = OpenApiExample(
    "Category",
    value={"name": "Shoes", "slug": "shoes", "description": "", "parent": None, "position": 0},
    request_only=True,
)


CATEGORY_ORDERINGS: dict[str, tuple[str, ...]] = {
    "path": selectors.CATEGORY_TREE_ORDER,
    "position": selectors.CATEGORY_SIBLING_ORDER,
}


@extend_schema_field(id_parameter("Category id; only its direct subcategories."))
class ParentFilter(IdFilter):
    pass


class CategoryFilterSet(django_filters.FilterSet):
    """Validates the query string; the filtering itself is ``selectors.category_list``."""

    parent = ParentFilter()
    top_level = django_filters.ChoiceFilter(
        choices=[("true", "true")], help_text="true: only categories without a parent."
    )

    class Meta:
        model = Category
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet[Category]) -> QuerySet[Category]:
        return selectors.category_list(
            top_level_only=self.form.cleaned_data["top_level"] == "true",
            parent_id=self.form.cleaned_data["parent"],
        )


@extend_schema_view(
    list=extend_schema(
        summary="List categories",
        description="Every category (or those the filters keep), cursor-paginated: in tree "
        "order (by path) by default, or in sibling order (position, then name) as GraphQL "
        "lists them. " + requirement_text(None),
        parameters=[
            OpenApiParameter(
                "ordering",
                OpenApiTypes.STR,
                enum=list(CATEGORY_ORDERINGS),
                description="`path` (default): parents before their children; `position`: "
                "by position, then name. Ties break by id.",
            )
        ],
        responses={200: CategorySerializer(many=True), **problem_responses(400)},
    ),
    retrieve=extend_schema(
        summary="Get a category by id or slug",
        description="`{id_or_slug}` is a numeric id or a slug. " + requirement_text(None),
        parameters=[
            OpenApiParameter("id_or_slug", OpenApiTypes.STR, OpenApiParameter.PATH),
        ],
        responses={200: CategorySerializer, **problem_responses(404)},
    ),
    create=extend_schema(
        summary="Create a category",
        description=requirement_text(_CATEGORY_PERMISSIONS["create"]),
        request=CategoryWriteSerializer,
        examples=[_CATEGORY_EXAMPLE],
        responses={
            201: CategorySerializer,
            **problem_responses(
                400,
                401,
                403,
                409,
                examples=[problem_example(409, "SLUG_TAKEN", "Slug already exists.", "slug")],
            ),
        },
    ),
    partial_update=extend_schema(
        summary="Update a category",
        description="Changes the given fields; `parent` moves the whole subtree. "
        + requirement_text(_CATEGORY_PERMISSIONS["partial_update"]),
        parameters=[
            OpenApiParameter("id_or_slug", OpenApiTypes.STR, OpenApiParameter.PATH),
        ],
        request=CategoryWriteSerializer(partial=True),
        examples=[OpenApiExample("Rename", value={"name": "Footwear"}, request_only=True)],
        responses={
            200: CategorySerializer,
            **problem_responses(
                400,
                401,
                403,
                404,
                409,
                examples=[
                    problem_example(
                        400,
                        "CATEGORY_CYCLE",
                        "A category cannot move under itself.",
                        "parent",
                    )
                ],
            ),
        },
    ),
    destroy=extend_schema(
        summary="Delete an empty category",
        description=requirement_text(_CATEGORY_PERMISSIONS["destroy"]),
        parameters=[
            OpenApiParameter("id_or_slug", OpenApiTypes.STR, OpenApiParameter.PATH),
        ],
        responses={
            204: None,
            **problem_responses(
                401,
                403,
                404,
                409,
                examples=[
                    problem_example(
                        409, "CATEGORY_NOT_EMPTY", "A category with products cannot be deleted."
                    )
                ],
            ),
        },
    ),
)
class CategoryViewSet(_CatalogViewSet[Category]):
    serializer_class = CategorySerializer
    filterset_class = CategoryFilterSet
    write_permissions = _CATEGORY_PERMISSIONS
    orderings = CATEGORY_ORDERINGS
    lookup_field = "id_or_slug"
    lookup_value_regex = "[-a-zA-Z0-9_]+"  # an id or a slug; anything else is a 404

    def get_queryset(self) -> QuerySet[Category]:
        return selectors.category_list()

    def cursor_ordering(self, request: Request) -> tuple[str, ...]:
        return CATEGORY_ORDERINGS[self.ordering_key(request) or "path"]

    def get_object(self) -> Category:
        key = self.kwargs["id_or_slug"]
        category = self.get_queryset().filter(**_id_or_slug_lookup(key)).first()
        if category is None:
            raise CatalogError(
                CatalogErrorCode.NOT_FOUND, "No category with this id exists.", field="id"
            )
        return category

    def create(self, request: Request) -> Response:
        data = _valid(CategoryWriteSerializer(data=request.data))
        category = services.category_create(**_with_references(data, parent=Category))
        return Response(CategorySerializer(category).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, id_or_slug: str) -> Response:
        data = _valid(CategoryWriteSerializer(data=request.data, partial=True))
        category = services.category_update(
            category=self.get_object(), **_with_references(data, parent=Category)
        )
        return Response(CategorySerializer(category).data)

    def destroy(self, request: Request, id_or_slug: str) -> Response:
        services.category_delete(category=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


def _id_or_slug_lookup(key: str) -> dict[str, object]:
    """The URL's ``{id_or_slug}`` (ASCII letters, digits, - and _, by the route): digits are an
    id, anything else a slug; a number no id can have matches nothing."""
    if not key.isdigit():
        return {"slug": key}
    try:
        return {"pk": integer_parse(key, minimum=1, maximum=MAX_ID)}
    except ValueError:
        return {"pk__in": []}


def _valid(serializer: serializers.Serializer) -> dict[str, Any]:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _with_references(data: dict[str, Any], **references: type[Category]) -> dict[str, Any]:
    """Ids of referenced rows as unsaved instances: the service locks them and answers
    NOT_FOUND on that field when they do not exist, so no extra lookup here."""
    for field, model in references.items():
        if field in data:
            data[field] = None if data[field] is None else model(pk=data[field])
    return data


# --- Products -------------------------------------------------------------------------------


def _price_bound(text: str) -> Decimal:
    value = decimal_parse(text)
    if abs(value) > MAX_PRICE:
        raise ValueError(f"Must be from -{MAX_PRICE} to {MAX_PRICE}.")
    return value


@extend_schema_field(
    id_parameter("Category id; products of its whole subtree (descendants included).")
)
class CategoryFilter(IdFilter):
    pass


@extend_schema_field(
    id_parameter("Category id; only products of exactly this category, not of its subcategories.")
)
class CategoryExactFilter(IdFilter):
    pass


@extend_schema_field(
    {
        "type": "number",
        "minimum": -MAX_PRICE,
        "maximum": MAX_PRICE,
        "description": "A price bound, inclusive: `price_min` the lowest, `price_max` the "
        "highest. ASCII digits; an empty value is refused.",
    }
)
class PriceFilter(django_filters.Filter):
    field_class = QueryNumberField

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(parse=_price_bound, **kwargs)


@extend_schema_field(
    {
        "type": "string",
        "maxLength": selectors.SEARCH_MAX_LENGTH,
        # Blank (no search), or holding a word character: the service searches words only.
        # Unicode classes, not \w: in the document's regex dialect (ECMA-262) \w is ASCII,
        # while a search's words are Unicode ("café", "日本"), as Python's \w reads them.
        "pattern": r"^\s*$|[\p{L}\p{N}_]",
        "description": "Full-text search over name, SKU and description: "
        f"{selectors.SEARCH_SYNTAX} It must hold a letter or digit, or be blank (no search). "
        "Orders by relevance unless `ordering` says otherwise.",
    }
)
class SearchFilter(django_filters.CharFilter):
    """The selector refuses the rest (``selectors.product_search``): stated in the document here.
    The text goes to the selector as sent, spaces included, as GraphQL's ``filter.search``
    does: the length limit and what counts as blank are the selector's."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strip=False, **kwargs)


class ProductFilterSet(django_filters.FilterSet):
    """Validates the query string; the filtering itself is ``selectors.product_list``."""

    category = CategoryFilter()
    category_exact = CategoryExactFilter()
    price_min = PriceFilter()  # the lowest price, inclusive
    price_max = PriceFilter()  # the highest price, inclusive
    # A choice, not BooleanFilter: that one silently ignores values it cannot read ("maybe").
    in_stock = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        help_text="true: stock > 0; false: sold out.",
    )
    published = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        help_text="Staff only (403 FORBIDDEN for anyone else): true: published; false: not.",
    )
    search = SearchFilter()

    class Meta:
        model = Product
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet[Product]) -> QuerySet[Product]:
        given = {k: v for k, v in self.form.cleaned_data.items() if v is not None and v != ""}
        return selectors.products_visible_to(
            self.request.user,
            selectors.product_list(
                viewer=self.request.user,
                category_id=given.get("category_exact"),
                in_category_id=given.get("category"),
                price_min=given.get("price_min"),
                price_max=given.get("price_max"),
                in_stock=given["in_stock"] == "true" if "in_stock" in given else None,
                published=given["published"] == "true" if "published" in given else None,
                search=given.get("search"),
            ),
        )


def _flag(request: Request, name: str) -> bool:
    """A ``true``/``false`` query parameter (absent: false); anything else is a 400."""
    value = request.query_params.get(name)
    if value not in (None, "true", "false"):
        raise serializers.ValidationError({name: ['Must be "true" or "false".']})
    return value == "true"


class ProductSuggestParameters(forms.Form):
    """The suggest query string. A blank prefix is valid (it suggests nothing); its length is
    the selector's to refuse, in the words GraphQL uses."""

    prefix = forms.CharField(required=False, strip=False)  # a NUL is refused here
    first = QueryNumberField(
        parse=functools.partial(integer_parse, minimum=1, maximum=selectors.SUGGEST_MAX),
        required=False,
    )


# ?ordering= value -> the catalog's ordering (the id breaks ties, so pages are stable).
_ORDERING_SORTS: dict[str, selectors.ProductSort] = {
    "created": selectors.ProductSort.CREATED_AT,
    "updated": selectors.ProductSort.UPDATED_AT,
    "price": selectors.ProductSort.PRICE,
    "name": selectors.ProductSort.NAME,
    "relevance": selectors.ProductSort.RELEVANCE,
}
PRODUCT_ORDERINGS: dict[str, selectors.ProductOrdering] = {
    f"{sign}{name}": selectors.ProductOrdering(sort, descending=sign == "-")
    for name, sort in _ORDERING_SORTS.items()
    for sign in ("", "-")
}

_PRODUCT_PERMISSIONS: dict[str, str] = {
    "create": "catalog.add_product",
    "partial_update": "catalog.change_product",
    "destroy": "catalog.delete_product",
    "stock_adjust": "catalog.change_product",
}
_PRODUCT_EXAMPLE = OpenApiExample(
    "Product",
    value={
        "name": "Trail shoe",
        "slug": "trail-shoe",
        "sku": "TS-001",
        "description": "Grippy.",
        "price": {"amount": "89.90", "currency": "USD"},
        "category": 1,
        "stock_quantity": 10,
        "is_published": True,
    },
    request_only=True,
)
_VISIBILITY = "Unpublished products are visible to staff only. "


@extend_schema_view(
    list=extend_schema(
        summary="List products",
        description=_VISIBILITY + requirement_text(None),
        parameters=[
            OpenApiParameter(
                "ordering",
                OpenApiTypes.STR,
                enum=list(PRODUCT_ORDERINGS),
                description="Sort key, `-` for descending; default `-relevance` (most "
                "relevant first) with `search`, else `-created` (newest first). `relevance` "
                "needs `search`. Ties break by id.",
            ),
            OpenApiParameter(
                "facets",
                OpenApiTypes.STR,
                enum=["true", "false"],
                description="`true`: the response also holds `facets`, counts over the whole "
                "filtered list by category, price range and stock (one more statement).",
            ),
        ],
        responses={200: PaginatedProductListSerializer, **problem_responses(400, 403)},
    ),
    suggest=extend_schema(
        summary="Suggest product names",
        description=f"{selectors.SUGGEST_RULE} " + _VISIBILITY + requirement_text(None),
        parameters=[
            OpenApiParameter(
                "prefix",
                {"type": "string", "maxLength": selectors.SUGGEST_PREFIX_MAX_LENGTH},
                required=True,
                description="What the shopper has typed so far (leading spaces ignored; "
                "blank: no suggestions).",
            ),
            OpenApiParameter(
                "first",
                {"type": "integer", "minimum": 1, "maximum": selectors.SUGGEST_MAX},
                description=f"How many names at most; default {selectors.SUGGEST_DEFAULT}.",
            ),
        ],
        responses={200: ProductSuggestionsSerializer, **problem_responses(400)},
    ),
    retrieve=extend_schema(
        summary="Get a product",
        description=_VISIBILITY + requirement_text(None),
        responses={200: ProductSerializer, **problem_responses(404)},
    ),
    create=extend_schema(
        summary="Create a product",
        description=requirement_text(_PRODUCT_PERMISSIONS["create"]),
        request=ProductWriteSerializer,
        examples=[_PRODUCT_EXAMPLE],
        responses={
            201: ProductSerializer,
            **problem_responses(
                400,
                401,
                403,
                409,
                examples=[
                    problem_example(400, "PRICE_INVALID", "Ensure this value is >= 0.", "price"),
                    problem_example(409, "SKU_TAKEN", "SKU already exists.", "sku"),
                ],
            ),
        },
    ),
    partial_update=extend_schema(
        summary="Update a product",
        description="Changes the given fields (stock: use stock-adjust). "
        + requirement_text(_PRODUCT_PERMISSIONS["partial_update"]),
        request=ProductWriteSerializer(partial=True),
        examples=[
            OpenApiExample(
                "Reprice",
                value={"price": {"amount": "79.90", "currency": "USD"}},
                request_only=True,
            )
        ],
        responses={200: ProductSerializer, **problem_responses(400, 401, 403, 404, 409)},
    ),
    destroy=extend_schema(
        summary="Delete a product",
        description="Order history keeps its lines. "
        + requirement_text(_PRODUCT_PERMISSIONS["destroy"]),
        responses={204: None, **problem_responses(401, 403, 404)},
    ),
    stock_adjust=extend_schema(
        summary="Adjust a product's stock",
        description="Adds `delta` units (negative removes) atomically; stock never goes below "
        "zero. " + requirement_text(_PRODUCT_PERMISSIONS["stock_adjust"]),
        request=StockAdjustSerializer,
        examples=[OpenApiExample("Receive 5", value={"delta": 5}, request_only=True)],
        responses={
            200: ProductSerializer,
            **problem_responses(
                400,
                401,
                403,
                404,
                409,
                examples=[
                    problem_example(
                        409, "INSUFFICIENT_STOCK", "Only 2 units are in stock.", "delta"
                    )
                ],
            ),
        },
    ),
)
class ProductViewSet(_CatalogViewSet[Product]):
    serializer_class = ProductSerializer
    filterset_class = ProductFilterSet
    write_permissions = _PRODUCT_PERMISSIONS
    orderings = PRODUCT_ORDERINGS
    lookup_value_regex = "[0-9]+"  # ASCII: \d also matches digits of other scripts
    list_query_parameters = frozenset({"ordering", "facets"})
    action_query_parameters = {"suggest": frozenset({"prefix", "first"})}

    def get_queryset(self) -> QuerySet[Product]:
        return selectors.products_visible_to(self.request.user)

    def list(self, request: Request) -> Response:
        """The page, and with ``facets=true`` the facets of the same filtered list (the one
        statement of ``selectors.product_facets``; a subtree's ids are not read again)."""
        facets = _flag(request, "facets")
        products = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(products)
        response = self.get_paginated_response(self.get_serializer(page, many=True).data)
        if facets:
            response.data["facets"] = ProductFacetsSerializer(
                selectors.product_facets(products=products)
            ).data
        return response

    @action(detail=False, methods=["get"])
    def suggest(self, request: Request) -> Response:
        """``selectors.product_suggest``."""
        if "prefix" not in request.query_params:
            raise serializers.ValidationError({"prefix": ["Give a prefix (it may be blank)."]})
        parameters = ProductSuggestParameters(request.query_params)
        if not parameters.is_valid():
            raise serializers.ValidationError(parameters.errors)
        names = selectors.product_suggest(
            viewer=request.user,
            prefix=parameters.cleaned_data["prefix"],
            first=parameters.cleaned_data["first"] or selectors.SUGGEST_DEFAULT,
        )
        return Response(ProductSuggestionsSerializer({"results": names}).data)

    def cursor_ordering(self, request: Request) -> tuple[str, ...]:
        key = self.ordering_key(request)
        try:
            ordering = selectors.product_ordering(
                requested=None if key is None else PRODUCT_ORDERINGS[key],
                search=request.query_params.get("search") or None,
            )
        except DjangoValidationError as error:
            raise serializers.ValidationError({"ordering": error.messages}) from None
        return ordering.order_by

    def create(self, request: Request) -> Response:
        data = _valid(ProductWriteSerializer(data=request.data))
        product = services.product_create(**_with_references(data, category=Category))
        return Response(self.get_serializer(product).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        data = _valid(ProductWriteSerializer(data=request.data, partial=True))
        data.pop("stock_quantity", None)  # stock changes only through stock-adjust
        product = services.product_update(
            product=self.get_object(), **_with_references(data, category=Category)
        )
        return Response(self.get_serializer(product).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.product_delete(product=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"], url_path="stock-adjust")
    def stock_adjust(self, request: Request, pk: str) -> Response:
        data = _valid(StockAdjustSerializer(data=request.data))
        services.product_stock_adjust(product_id=self.get_object().pk, delta=data["delta"])
        return Response(self.get_serializer(self.get_object()).data)
