"""The catalog's root fields (``CatalogQuery``), merged in ``backend/api/schema.py``."""

from typing import Annotated

import strawberry
import strawberry_django
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from strawberry import Info, relay

from backend.api.graphql.catalog.types import (
    CategoryConnection,
    CategoryType,
    DateTimeRange,
    DecimalRange,
    ProductConnection,
    ProductFilter,
    ProductOrder,
    ProductType,
)
from backend.api.graphql.errors import BadUserInputError, ForbiddenError
from backend.api.graphql.fields import off_event_loop
from backend.api.graphql.ids import global_id_to_pk
from backend.api.graphql.pagination import (
    keyset_connection,
    optimize_connection,
    requested_node_fields,
)
from backend.api.graphql.permissions import viewer
from backend.catalog import selectors
from backend.catalog.models import Category, Product


@strawberry.input(description="Category filters; all given conditions must hold.")
class CategoryFilter:
    top_level_only: bool = strawberry.field(
        default=False, description="Only categories without a parent (the tree's roots)."
    )
    parent: relay.GlobalID | None = strawberry.field(
        default=None, description="Only the direct children of this category (a Category id)."
    )


IdArgument = Annotated[
    relay.GlobalID | None,
    strawberry.argument(description="The global id (exactly one of id, slug)."),
]
SlugArgument = Annotated[
    str | None, strawberry.argument(description="The slug (exactly one of id, slug).")
]


def _by_id_or_slug[M: Model](
    model: type[M],
    type_name: str,
    id: relay.GlobalID | None,
    slug: str | None,
) -> QuerySet[M]:
    if (id is None) == (slug is None):
        raise BadUserInputError("Pass exactly one of `id` or `slug`.", field="id")
    if id is not None:
        return model._default_manager.filter(
            pk=global_id_to_pk(id, type_name=type_name, field="id")
        )
    return model._default_manager.filter(slug=slug)


def _category_pk(id: relay.GlobalID | None, *, field: str) -> int | None:
    return None if id is None else global_id_to_pk(id, type_name="Category", field=field)


def _subtree_filtered(filter: ProductFilter) -> bool:
    """Whether the filter names a category's whole subtree (``inCategory``, or the deprecated
    ``category`` with ``includeDescendants``)."""
    return filter.in_category is not None or (
        filter.category is not None and filter.include_descendants
    )


def _product_queryset(info: Info, filter: ProductFilter) -> QuerySet[Product]:
    """Translate the GraphQL filter into the catalog selector's keyword arguments."""
    category_id = _category_pk(filter.category, field="filter.category")
    in_category_id = _category_pk(filter.in_category, field="filter.inCategory")
    if filter.include_descendants and category_id is not None:
        if in_category_id is not None:
            raise BadUserInputError(
                "`includeDescendants` is the deprecated spelling of `inCategory`: pass "
                "`inCategory` alone.",
                field="filter.includeDescendants",
            )
        category_id, in_category_id = None, category_id
    price = filter.price or DecimalRange()
    created = filter.created_at or DateTimeRange()
    updated = filter.updated_at or DateTimeRange()
    # Visibility (unpublished for staff only) is ProductType.get_queryset, shared with node.
    try:
        return selectors.product_list(
            viewer=viewer(info),
            category_id=category_id,
            in_category_id=in_category_id,
            price_min=price.min,
            price_max=price.max,
            in_stock=filter.in_stock,
            published=filter.published,
            created_after=created.gte,
            created_before=created.lte,
            updated_after=updated.gte,
            updated_before=updated.lte,
            search=filter.search,
        )
    except PermissionDenied as error:
        raise ForbiddenError(str(error)) from None
    except ValidationError as error:
        raise BadUserInputError(" ".join(error.messages), field="filter") from None


@strawberry.type(description="Catalog queries: the category tree and products.")
class CatalogQuery:
    @keyset_connection(
        CategoryConnection, description="Categories in sibling order (position, then name)."
    )
    def categories(
        self,
        info: Info,
        filter: Annotated[
            CategoryFilter | None, strawberry.argument(description="Which categories to list.")
        ] = None,
    ) -> QuerySet[Category]:
        filter = filter or CategoryFilter()
        parent_id = (
            global_id_to_pk(filter.parent, type_name="Category", field="filter.parent")
            if filter.parent is not None
            else None
        )
        categories = selectors.category_list(
            top_level_only=filter.top_level_only, parent_id=parent_id
        )
        return optimize_connection(categories, info)

    @strawberry_django.field(description="One category, by id or by slug; null if none.")
    def category(
        self,
        id: IdArgument = None,
        slug: SlugArgument = None,
    ) -> CategoryType | None:
        return _by_id_or_slug(Category, "Category", id, slug)  # type: ignore[return-value]

    @keyset_connection(
        ProductConnection,
        description="Products, filtered and ordered; newest first by default, most relevant "
        "first when searching. Unpublished products are listed for staff only.",
    )
    def products(
        self,
        info: Info,
        filter: Annotated[
            ProductFilter | None, strawberry.argument(description="Which products to list.")
        ] = None,
        # Named ``sort`` in Python: strawberry-django would apply an argument called ``order``
        # as its own ordering input. ProductConnection.keyset_order applies it instead.
        sort: Annotated[
            ProductOrder | None,
            strawberry.argument(
                name="order", description="Sort key and direction (the id breaks ties)."
            ),
        ] = None,
    ) -> QuerySet[Product]:
        filter = filter or ProductFilter()

        def compose() -> QuerySet[Product]:
            products = _product_queryset(info, filter)
            if filter.search is not None and "highlight" in requested_node_fields(info):
                # Columns of the page's statement, computed for its rows only.
                products = selectors.product_highlights(products, search=filter.search)
            return optimize_connection(products, info)

        if _subtree_filtered(filter):
            # Composing a subtree filter reads the subtree's category ids (a statement): the
            # one case that needs a thread before the page's own fetch.
            return off_event_loop(compose)  # type: ignore[return-value]
        return compose()

    @strawberry.field(description=selectors.SUGGEST_RULE)
    def product_suggest(
        self,
        info: Info,
        prefix: Annotated[
            str,
            strawberry.argument(
                description="What the shopper has typed so far (leading spaces ignored; blank: "
                f"no suggestions); at most {selectors.SUGGEST_PREFIX_MAX_LENGTH} characters."
            ),
        ],
        first: Annotated[
            int,
            strawberry.argument(
                description=f"How many names at most (1..{selectors.SUGGEST_MAX})."
            ),
        ] = selectors.SUGGEST_DEFAULT,
    ) -> list[str]:
        user = viewer(info)

        def suggest() -> list[str]:
            try:
                return selectors.product_suggest(viewer=user, prefix=prefix, first=first)
            except ValidationError as error:
                [(field, messages)] = error.message_dict.items()
                raise BadUserInputError(" ".join(messages), field=field) from None

        return off_event_loop(suggest)  # type: ignore[return-value]

    @strawberry_django.field(
        description="One product, by id or by slug; null if none is visible to the viewer."
    )
    def product(
        self,
        id: IdArgument = None,
        slug: SlugArgument = None,
    ) -> ProductType | None:
        return _by_id_or_slug(Product, "Product", id, slug)  # type: ignore[return-value]
