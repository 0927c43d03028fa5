"""GraphQL types of the catalog: ``Category`` and ``Product``, generated from the models.

Batching: plain columns and foreign keys are fetched by the strawberry-django optimizer (every
computed field states the columns it reads); ``productCount`` and ``children`` go through
per-request DataLoaders, and ``ancestors`` through one too on an event loop or over the rows
loaded with its category otherwise: one statement each for a whole page, so a query's
statement count does not depend on its page size.
"""

import hashlib
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
import strawberry_django
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from strawberry import Info, relay
from strawberry.dataloader import DataLoader
from strawberry.utils.inspect import in_async_context

from backend.api.graphql.analysis import FACETS_COST
from backend.api.graphql.context import request_loader, request_rows
from backend.api.graphql.errors import BadUserInputError
from backend.api.graphql.fields import off_event_loop, query_free, row_field
from backend.api.graphql.ids import ModelNode
from backend.api.graphql.money import Money
from backend.api.graphql.ordering import OrderDirection
from backend.api.graphql.pagination import (
    AfterArgument,
    BeforeArgument,
    FirstArgument,
    KeysetConnection,
    KeysetOrder,
    LastArgument,
    SortKey,
    nested_connection_load,
)
from backend.api.graphql.permissions import viewer
from backend.api.graphql.rows import rows_as_peers, rows_loaded_with
from backend.catalog import selectors
from backend.catalog.models import Category, Product
from backend.catalog.policies import stock_visible_to

_CATEGORY_COLUMN_TYPES: dict[str, type] = {"position": int, "name": str, "id": int}
CATEGORY_ORDER = KeysetOrder(
    name="Category:POSITION:ASC",
    keys=tuple(
        SortKey(column, _CATEGORY_COLUMN_TYPES[column])
        for column in selectors.CATEGORY_SIBLING_ORDER
    ),
    descending=False,
)


@strawberry_django.type(
    Category,
    name="Category",
    description="A node of the category tree; products belong to exactly one category.",
)
class CategoryType(ModelNode):
    name: strawberry.auto = strawberry_django.field(description="Display name.")
    slug: strawberry.auto = strawberry_django.field(
        description="Unique, URL-safe identifier; stable across renames."
    )
    description: strawberry.auto = strawberry_django.field(
        description="Long description (may be empty)."
    )
    position: strawberry.auto = strawberry_django.field(
        description="Order among its siblings (ascending)."
    )
    parent: "CategoryType | None" = strawberry_django.field(
        description="The parent category; null for a top-level category."
    )
    created_at: strawberry.auto = strawberry_django.field(description="When it was created.")
    updated_at: strawberry.auto = strawberry_django.field(description="When it last changed.")

    @strawberry_django.field(
        only=["path"],
        description="The breadcrumbs: ancestors from the root down to the parent (empty for a "
        "top-level category). A list, not a connection: it is bounded by the tree depth.",
    )
    @query_free  # on an event loop it only awaits the DataLoader
    def ancestors(self, root: Category, info: Info) -> list["CategoryType"]:
        # A sync resolver, so a document selecting breadcrumbs (a product page) can run
        # without an event loop: there the rows loaded with ``root`` are batched at once.
        # On an event loop (a document with other DataLoader fields) a DataLoader batches.
        if in_async_context():
            return _ancestors_through_loader(root, info)  # type: ignore[return-value]
        return _ancestors_with_peers(root, info)  # type: ignore[return-value]

    @strawberry_django.field(
        only=["id"],
        description="Products in this category and all its subcategories (published ones only, "
        "unless the viewer is staff).",
    )
    async def product_count(self, root: Category, info: Info) -> int:
        user = viewer(info)

        async def load(ids: list[int]) -> list[int]:
            counts = await sync_to_async(selectors.category_product_counts)(
                category_ids=ids, viewer=user
            )
            return [counts.get(pk, 0) for pk in ids]

        loader = request_loader(info, "category_product_count", lambda: DataLoader(load))
        return await loader.load(root.pk)

    @strawberry_django.field(
        only=["id"],
        description="The direct subcategories, in sibling order (position, then name).",
    )
    async def children(
        self,
        root: Category,
        info: Info,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
    ) -> "CategoryConnection":
        return await nested_connection_load(
            info,
            parent_pk=root.pk,
            connection=CategoryConnection,
            queryset=Category.objects.all(),
            parent_field="parent_id",
            counts=lambda parent_ids: selectors.category_children_counts(parent_ids=parent_ids),
            loader_name="category_children",
            first=first,
            after=after,
            last=last,
            before=before,
        )


async def _load_categories(ids: list[int]) -> list[Category | None]:
    found = await sync_to_async(selectors.categories_by_id)(ids=ids)
    return [found.get(pk) for pk in ids]


async def _ancestors_through_loader(root: Category, info: Info) -> list[Category]:
    loader = request_loader(info, "category_by_id", lambda: DataLoader(_load_categories))
    found = await loader.load_many(root.ancestor_ids)
    return [category for category in found if category is not None]


def _ancestors_with_peers(root: Category, info: Info) -> list[Category]:
    """``root``'s ancestors, loading in ONE statement those of every category loaded with it
    (``rows_loaded_with``: the categories of a page), so a page's breadcrumbs cost one
    statement whatever its size, as through a DataLoader. Loaded categories are kept for the
    request, so later rows need none."""
    known = request_rows(info, Category)
    wanted = root.ancestor_ids
    if any(pk not in known for pk in wanted):
        missing = {
            pk
            for category in rows_loaded_with(root)
            for pk in category.ancestor_ids
            if pk not in known
        }
        found = selectors.categories_by_id(ids=missing)
        known.update({pk: found.get(pk) for pk in missing})  # None: deleted meanwhile
    return [known[pk] for pk in wanted if known[pk] is not None]


@strawberry.type(name="CategoryConnection", description="A page of categories.")
class CategoryConnection(KeysetConnection[CategoryType]):
    fixed_order = CATEGORY_ORDER


@strawberry_django.type(
    Product,
    name="Product",
    description="A product for sale. Unpublished products are visible to staff only.",
)
class ProductType(ModelNode):
    name: strawberry.auto = strawberry_django.field(description="Display name.")
    slug: strawberry.auto = strawberry_django.field(
        description="Unique, URL-safe identifier for product pages."
    )
    sku: strawberry.auto = strawberry_django.field(description="Unique stock-keeping unit.")
    description: strawberry.auto = strawberry_django.field(
        description="Long description (may be empty)."
    )
    is_published: strawberry.auto = strawberry_django.field(
        description="Whether customers can see it (always true for non-staff viewers, who "
        "never see unpublished products)."
    )
    category: CategoryType = strawberry_django.field(description="The category it belongs to.")
    created_at: strawberry.auto = strawberry_django.field(description="When it was created.")
    updated_at: strawberry.auto = strawberry_django.field(description="When it last changed.")

    @row_field(only=["price"], description="Unit price in the store currency.")
    def price(self, root: Product) -> Money:
        return Money.in_store_currency(root.price)

    @row_field(only=["stock_quantity"], description="Whether at least one unit can be ordered.")
    def in_stock(self, root: Product) -> bool:
        return root.in_stock

    @row_field(
        only=["stock_quantity"],
        description="Units available; null unless the viewer is staff (storefronts use inStock).",
    )
    def stock_quantity(self, root: Product, info: Info) -> int | None:
        return root.stock_quantity if stock_visible_to(viewer(info)) else None

    @row_field(
        only=[],
        description="The name and description with the words matching the search marked, as "
        "HTML; only in the results of `products(filter: {search: ...})`, null elsewhere. "
        "Computed in the page's own statement, only when selected.",
    )
    def highlight(self, root: Product) -> "ProductHighlight | None":
        # The annotations of selectors.product_highlights, which the products field adds to
        # its page when this field is selected and it searches.
        name = getattr(root, "highlight_name", None)
        if name is None:
            return None
        return ProductHighlight(
            name=selectors.highlighted_html(name),
            description=selectors.highlighted_html(root.highlight_description),  # type: ignore[attr-defined]
        )

    @classmethod
    def get_queryset(cls, queryset: QuerySet[Product], info: Info, **kwargs: Any) -> QuerySet:
        """The one visibility rule, shared by ``product``, ``products``, ``node`` and ``nodes``:
        unpublished products exist only for staff."""
        return selectors.products_visible_to(viewer(info), queryset)


@strawberry.type(
    name="ProductHighlight",
    description="Search matches marked for display: HTML in which every matched word is "
    "wrapped in <mark>...</mark> and every other character is escaped (&lt;, &amp;, ...), so "
    "it can be inserted as is.",
)
class ProductHighlight:
    name: str = strawberry.field(description="The whole name.")
    description: str = strawberry.field(
        description="Up to two passages of the description's words around its matches, "
        "joined by ' … ' (markup tags in it left out; its first words when none matches; empty "
        "when it is)."
    )


@strawberry.enum(description="What to order products by; the id always breaks ties.")
class ProductOrderField(Enum):
    PRICE = strawberry.enum_value("PRICE", description="Unit price.")
    NAME = strawberry.enum_value("NAME", description="Name.")
    CREATED_AT = strawberry.enum_value("CREATED_AT", description="Creation time.")
    UPDATED_AT = strawberry.enum_value("UPDATED_AT", description="Last change.")
    RELEVANCE = strawberry.enum_value(
        "RELEVANCE", description="Search relevance; only valid together with `filter.search`."
    )


PRODUCT_SORTS: dict[ProductOrderField, selectors.ProductSort] = {
    field: selectors.ProductSort[field.name] for field in ProductOrderField
}
PRODUCT_SORT_KEYS: dict[selectors.ProductSort, SortKey] = {
    selectors.ProductSort.PRICE: SortKey("price", Decimal),
    selectors.ProductSort.NAME: SortKey("name", str),
    selectors.ProductSort.CREATED_AT: SortKey("created_at", datetime),
    selectors.ProductSort.UPDATED_AT: SortKey("updated_at", datetime),
    selectors.ProductSort.RELEVANCE: SortKey("search_rank", float),
}


@strawberry.input(description="How to order products.")
class ProductOrder:
    field: ProductOrderField = strawberry.field(description="The sort key.")
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.ASC, description="Ascending (default) or descending."
    )


@strawberry.input(description="An inclusive decimal range; either bound may be omitted.")
class DecimalRange:
    min: Decimal | None = strawberry.field(default=None, description="Lowest value (inclusive).")
    max: Decimal | None = strawberry.field(default=None, description="Highest value (inclusive).")


@strawberry.input(description="An inclusive time range; either bound may be omitted.")
class DateTimeRange:
    gte: datetime | None = strawberry.field(default=None, description="At or after this time.")
    lte: datetime | None = strawberry.field(default=None, description="At or before this time.")


@strawberry.input(description="Product filters; all given conditions must hold.")
class ProductFilter:
    category: relay.GlobalID | None = strawberry.field(
        default=None,
        description="Only products of exactly this category, not of its subcategories (a "
        "Category id). For the category and its subcategories use `inCategory`.",
    )
    in_category: relay.GlobalID | None = strawberry.field(
        default=None,
        description="Only products of this category or any of its subcategories (a Category "
        "id): what a category filter means on REST (`?category=`) too.",
    )
    include_descendants: bool = strawberry.field(
        default=False,
        description="With `category`: also products of all its subcategories.",
        deprecation_reason="Use `inCategory`, which includes the subcategories.",
    )
    price: DecimalRange | None = strawberry.field(default=None, description="Unit price range.")
    in_stock: bool | None = strawberry.field(
        default=None, description="true: orderable now; false: sold out."
    )
    published: bool | None = strawberry.field(
        default=None, description="Staff only: filter by published state."
    )
    created_at: DateTimeRange | None = strawberry.field(
        default=None, description="Creation time range."
    )
    updated_at: DateTimeRange | None = strawberry.field(
        default=None, description="Last-change time range."
    )
    search: str | None = strawberry.field(
        default=None,
        description=f"Full-text search on name, SKU and description: {selectors.SEARCH_SYNTAX}",
    )


@strawberry.type(
    name="ProductCategoryFacet",
    description="How many products of the list are in one category.",
)
class ProductCategoryFacet:
    category: CategoryType = strawberry.field(description="The category.")
    count: int = strawberry.field(
        description="Products of the list in exactly this category, not in its subcategories: "
        "what adding `category` (this id) to the filter lists."
    )


@strawberry.type(
    name="ProductPriceRangeFacet",
    description="How many products of the list cost within a range.",
)
class ProductPriceRangeFacet:
    min: Decimal = strawberry.field(description="Lowest price (inclusive).")
    max: Decimal = strawberry.field(description="Highest price (inclusive).")
    count: int = strawberry.field(
        description="Products of the list priced from min to max: what adding `price: {min, "
        "max}` to the filter lists."
    )


@strawberry.type(
    name="ProductInStockFacet", description="How many products of the list can be ordered now."
)
class ProductInStockFacet:
    count: int = strawberry.field(
        description="Products of the list in stock: what adding `inStock: true` lists."
    )


@strawberry.type(
    name="ProductFacets",
    description="Counts over the whole filtered list (every page of it, the search included), "
    "for refining it: each count is the number of products the list holds once the filter "
    "says so too.",
)
class ProductFacets:
    categories: list[ProductCategoryFacet] = strawberry.field(
        description=f"The categories holding the most products of the list (at most "
        f"{selectors.FACET_CATEGORIES_MAX}), most first, then by name."
    )
    price_ranges: list[ProductPriceRangeFacet] = strawberry.field(
        description=f"At most {selectors.FACET_PRICE_RANGES} consecutive price ranges holding "
        "about as many products each, cheapest first; their bounds are round prices, and a "
        "range ends a cent below the next round price (1.50, 2, 2.50, 3, 4, 5, 6, 8, 10, 15, "
        "...) after its dearest product."
    )
    in_stock: ProductInStockFacet = strawberry.field(
        description="The products of the list in stock."
    )

    @classmethod
    def from_facets(cls, facets: selectors.ProductFacets) -> "ProductFacets":
        # As a page's rows: the categories' parents and breadcrumbs load in one statement.
        rows_as_peers([facet.category for facet in facets.categories])
        return cls(
            categories=[
                ProductCategoryFacet(category=facet.category, count=facet.count)  # type: ignore[arg-type]
                for facet in facets.categories
            ],
            price_ranges=[
                ProductPriceRangeFacet(min=facet.min, max=facet.max, count=facet.count)
                for facet in facets.price_ranges
            ],
            in_stock=ProductInStockFacet(count=facets.in_stock),
        )


@strawberry.type(name="ProductConnection", description="A page of products.")
class ProductConnection(KeysetConnection[ProductType]):
    @strawberry.field(
        description="Counts over the whole filtered list, for refining it (categories, price "
        "ranges, stock). Computed only when selected: beside a search's page, by the page's own "
        "statement; otherwise by one aggregate statement, over counts kept per category, price "
        "step and published state when the filter is only categories, facet price ranges and "
        "stock, else over every product of the list. It "
        f"adds {FACETS_COST} to the query cost."
    )
    def facets(self) -> ProductFacets:
        products = self.unpaginated
        assert products is not None  # a root connection's

        def count() -> ProductFacets:
            facets = selectors.product_facets(products=products, read_with_page=self.read_with_page)
            return ProductFacets.from_facets(facets)

        return off_event_loop(count)  # type: ignore[return-value]

    @classmethod
    def count_of(cls, nodes: QuerySet[Any]) -> int:
        return selectors.product_count(products=nodes)

    @classmethod
    def page_source(cls, nodes: QuerySet[Any], *, selected: set[str]) -> tuple[QuerySet[Any], Any]:
        """With ``facets`` selected, a search's page and its facets come from one statement."""
        if "facets" in selected:
            with_facets = selectors.product_pages_with_facets(nodes)
            if with_facets is not None:
                return with_facets
        return nodes, None

    @classmethod
    def keyset_order(
        cls,
        *,
        filter: ProductFilter | None = None,
        sort: ProductOrder | None = None,
        **kwargs: Any,
    ) -> KeysetOrder:
        """The catalog's ``product_ordering``: the requested order, else the most relevant
        first when searching and the newest first otherwise. Relevance needs a search."""
        search = filter.search if filter is not None else None
        requested = (
            None
            if sort is None
            else selectors.ProductOrdering(
                PRODUCT_SORTS[sort.field], descending=sort.direction is OrderDirection.DESC
            )
        )
        try:
            order = selectors.product_ordering(requested=requested, search=search)
        except ValidationError:
            raise BadUserInputError(
                "Ordering by RELEVANCE needs a search: pass `filter.search`.", field="order"
            ) from None
        direction = OrderDirection.DESC if order.descending else OrderDirection.ASC
        name = f"Product:{order.sort.name}:{direction.value}"
        if order.sort is selectors.ProductSort.RELEVANCE and search is not None:
            # A rank only orders the results of the search that computed it: a cursor carried
            # over to another search would skip or repeat rows, so it names its search.
            name += ":" + hashlib.blake2b(search.encode(), digest_size=6).hexdigest()
        return KeysetOrder(
            name=name,
            keys=(PRODUCT_SORT_KEYS[order.sort], SortKey("id", int)),
            descending=order.descending,
        )
