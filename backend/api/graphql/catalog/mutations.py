"""Catalog mutations (``CatalogMutation``), merged into the API in ``backend/api/schema.py``.

Staff only: each field declares its Django permission with ``requires`` (shown in its
description; an anonymous caller gets UNAUTHENTICATED, a customer FORBIDDEN, and the resolver
does not run). Each mutation turns global ids into rows and makes ONE call to a service in
``services.py`` (which owns the transaction) through ``mutation_payload``, which returns every
``CatalogError`` in the payload's ``errors``, never as a top-level error.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

import strawberry
import strawberry_django
from strawberry import relay

from backend.api.graphql.catalog.types import CategoryType, ProductType
from backend.api.graphql.enums import graphql_enum
from backend.api.graphql.ids import node_id_pk
from backend.api.graphql.payloads import (
    effect_payload,
    errors_field,
    mutation_payload,
    result_payload,
)
from backend.api.graphql.permissions import requires
from backend.catalog import services
from backend.catalog.errors import CatalogError, CatalogErrorCode
from backend.catalog.models import Category, Product
from backend.core.numbers import MAX_ID

graphql_enum(
    CatalogErrorCode,
    name="CatalogErrorCode",
    description="Why a catalog mutation was refused.",
    values={
        CatalogErrorCode.INVALID: "A value is malformed, missing or out of range (see `field`).",
        CatalogErrorCode.NOT_FOUND: "The id names no existing object of the expected type.",
        CatalogErrorCode.SLUG_TAKEN: "Another object of this type already has this slug.",
        CatalogErrorCode.SKU_TAKEN: "Another product already has this SKU.",
        CatalogErrorCode.PRICE_INVALID: "The price is negative, has more than 2 decimal places or "
        "more than 12 digits.",
        CatalogErrorCode.CATEGORY_CYCLE: "The category would become its own parent or move under "
        "its own subtree.",
        CatalogErrorCode.CATEGORY_NOT_EMPTY: "The category still has products or subcategories; "
        "move or delete them first.",
        CatalogErrorCode.INSUFFICIENT_STOCK: "The adjustment would take stock below zero; "
        "`availableQuantity` says how many units there are.",
    },
)


@strawberry.type(name="CatalogError", description="A business failure of a catalog mutation.")
class CatalogErrorType:
    field: str | None = strawberry.field(
        description="The input field at fault, by its GraphQL name (`price`, `slug`, `parent`, "
        "`id`); null when the request as a whole was refused."
    )
    message: str = strawberry.field(description="Human-readable explanation, in English.")
    code: CatalogErrorCode = strawberry.field(description="Machine-readable reason.")
    available_quantity: int | None = strawberry.field(
        default=None, description="Units in stock; set with INSUFFICIENT_STOCK only."
    )


@strawberry.type(description="Result of categoryCreate and categoryUpdate.")
class CategoryPayload:
    category: CategoryType | None = strawberry.field(
        default=None, description="The category as saved; null on failure."
    )
    errors: list[CatalogErrorType] = errors_field()


@strawberry.type(description="Result of categoryDelete.")
class CategoryDeletePayload:
    deleted_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The id of the deleted category; null on failure."
    )
    errors: list[CatalogErrorType] = errors_field()


@strawberry.type(description="Result of productCreate, productUpdate and productStockAdjust.")
class ProductPayload:
    product: ProductType | None = strawberry.field(
        default=None, description="The product as saved; null on failure."
    )
    errors: list[CatalogErrorType] = errors_field()


@strawberry.type(description="Result of productDelete.")
class ProductDeletePayload:
    deleted_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The id of the deleted product; null on failure."
    )
    errors: list[CatalogErrorType] = errors_field()


@strawberry.input(description="A new category.")
class CategoryCreateInput:
    name: str = strawberry.field(description="Display name (at most 120 characters).")
    slug: str = strawberry.field(
        description="Unique, URL-safe identifier: letters, digits, hyphens, underscores."
    )
    description: str = strawberry.field(default="", description="Long description (optional).")
    parent: relay.GlobalID | None = strawberry.field(
        default=None, description="The parent category (a Category id); omit for a top-level one."
    )
    position: int = strawberry.field(
        default=0, description="Order among its siblings (0 or more; ascending)."
    )


@strawberry.input(description="Changes to a category; omitted fields stay as they are.")
class CategoryUpdateInput:
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Display name.")
    slug: str | None = strawberry.field(
        default=strawberry.UNSET, description="Unique, URL-safe identifier."
    )
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="Long description."
    )
    position: int | None = strawberry.field(
        default=strawberry.UNSET, description="Order among its siblings."
    )
    parent: relay.GlobalID | None = strawberry.field(
        default=strawberry.UNSET,
        description="Move the category, with its whole subtree, under this category (a Category "
        "id); null moves it to the top level. Not under itself or its own subcategories.",
    )


@strawberry.input(description="A new product.")
class ProductCreateInput:
    name: str = strawberry.field(description="Display name (at most 200 characters).")
    slug: str = strawberry.field(description="Unique, URL-safe identifier for product pages.")
    sku: str = strawberry.field(description="Unique stock-keeping unit (at most 64 characters).")
    price: Decimal = strawberry.field(
        description='Unit price in the store currency, as a decimal string ("19.99"): 0 or '
        "more, at most 2 decimal places and 12 digits."
    )
    category: relay.GlobalID = strawberry.field(description="Its category (a Category id).")
    description: str = strawberry.field(default="", description="Long description (optional).")
    stock_quantity: int = strawberry.field(
        default=0,
        description="Units in stock at creation (0 or more); change later with productStockAdjust.",
    )
    is_published: bool = strawberry.field(
        default=True, description="Whether customers can see it (default true)."
    )


@strawberry.input(description="Changes to a product; omitted fields stay as they are.")
class ProductUpdateInput:
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Display name.")
    slug: str | None = strawberry.field(
        default=strawberry.UNSET, description="Unique, URL-safe identifier."
    )
    sku: str | None = strawberry.field(
        default=strawberry.UNSET, description="Unique stock-keeping unit."
    )
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="Long description."
    )
    price: Decimal | None = strawberry.field(
        default=strawberry.UNSET,
        description="Unit price: 0 or more, at most 2 decimal places and 12 digits.",
    )
    category: relay.GlobalID | None = strawberry.field(
        default=strawberry.UNSET, description="Move it to this category (a Category id)."
    )
    is_published: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Whether customers can see it."
    )


def _row[M: Category | Product](model: type[M], global_id: relay.GlobalID, field: str) -> M:
    """The row a global id names; INVALID for an id of another type or a malformed one,
    NOT_FOUND when no such row exists. The service locks it again inside its transaction."""
    type_name = model.__name__
    pk = node_id_pk(global_id.node_id)
    if global_id.type_name != type_name or pk is None:
        raise CatalogError(
            CatalogErrorCode.INVALID, f"`{field}` is not a {type_name} id.", field=field
        )
    # A key beyond bigint cannot exist and must not reach the database.
    found = model._default_manager.filter(pk=pk).first() if pk <= MAX_ID else None
    if found is None:
        raise CatalogError(
            CatalogErrorCode.NOT_FOUND, f"No {type_name} with this id exists.", field=field
        )
    return found


def _changes(input: object, rows: dict[str, Callable[[relay.GlobalID | None], Any]]) -> dict:
    """The fields the client sent (UNSET ones left out), with global ids turned into rows."""
    changes = {name: value for name, value in vars(input).items() if value is not strawberry.UNSET}
    for name, to_row in rows.items():
        if name in changes:
            changes[name] = to_row(changes[name])
    return changes


def _category_or_none(global_id: relay.GlobalID | None) -> Category | None:
    return None if global_id is None else _row(Category, global_id, "parent")


def _category(global_id: relay.GlobalID | None) -> Category:
    if global_id is None:  # every product has a category
        raise CatalogError(CatalogErrorCode.INVALID, "`category` cannot be null.", field="category")
    return _row(Category, global_id, "category")


IdArgument = Annotated[relay.GlobalID, strawberry.argument(description="The object's global id.")]


@strawberry.type(description="Catalog changes: the category tree and products. Staff only.")
class CatalogMutation:
    @strawberry_django.mutation(
        **requires("catalog.add_category", description="Create a category.")
    )
    def category_create(
        self,
        input: Annotated[
            CategoryCreateInput, strawberry.argument(description="The category to create.")
        ],
    ) -> CategoryPayload:
        return result_payload(
            CategoryPayload,
            "category",
            lambda: services.category_create(
                name=input.name,
                slug=input.slug,
                description=input.description,
                parent=_category_or_none(input.parent),
                position=input.position,
            ),
        )

    @strawberry_django.mutation(
        **requires(
            "catalog.change_category",
            description="Change a category; setting `parent` moves it with its whole subtree.",
        )
    )
    def category_update(
        self,
        id: IdArgument,
        input: Annotated[
            CategoryUpdateInput, strawberry.argument(description="The fields to change.")
        ],
    ) -> CategoryPayload:
        return result_payload(
            CategoryPayload,
            "category",
            lambda: services.category_update(
                category=_row(Category, id, "id"), **_changes(input, {"parent": _category_or_none})
            ),
        )

    @strawberry_django.mutation(
        **requires(
            "catalog.delete_category",
            description="Delete an empty category (CATEGORY_NOT_EMPTY while it has products or "
            "subcategories).",
        )
    )
    def category_delete(self, id: IdArgument) -> CategoryDeletePayload:
        return effect_payload(
            CategoryDeletePayload,
            lambda: services.category_delete(category=_row(Category, id, "id")),
            deleted_id=id,
        )

    @strawberry_django.mutation(**requires("catalog.add_product", description="Create a product."))
    def product_create(
        self,
        input: Annotated[
            ProductCreateInput, strawberry.argument(description="The product to create.")
        ],
    ) -> ProductPayload:
        return result_payload(
            ProductPayload,
            "product",
            lambda: services.product_create(
                name=input.name,
                slug=input.slug,
                sku=input.sku,
                price=input.price,
                category=_row(Category, input.category, "category"),
                description=input.description,
                stock_quantity=input.stock_quantity,
                is_published=input.is_published,
            ),
        )

    @strawberry_django.mutation(
        **requires(
            "catalog.change_product",
            description="Change a product. Stock changes go through productStockAdjust.",
        )
    )
    def product_update(
        self,
        id: IdArgument,
        input: Annotated[
            ProductUpdateInput, strawberry.argument(description="The fields to change.")
        ],
    ) -> ProductPayload:
        return result_payload(
            ProductPayload,
            "product",
            lambda: services.product_update(
                product=_row(Product, id, "id"), **_changes(input, {"category": _category})
            ),
        )

    @strawberry_django.mutation(
        **requires(
            "catalog.delete_product",
            description="Delete a product. Orders keep their lines (name, SKU and price were "
            "copied onto them).",
        )
    )
    def product_delete(self, id: IdArgument) -> ProductDeletePayload:
        return effect_payload(
            ProductDeletePayload,
            lambda: services.product_delete(product=_row(Product, id, "id")),
            deleted_id=id,
        )

    @strawberry_django.mutation(
        **requires(
            "catalog.change_product",
            description="Add units to (positive delta) or remove units from (negative delta) a "
            "product's stock, atomically: concurrent adjustments never lose an update, and "
            "stock never goes below zero (INSUFFICIENT_STOCK, with availableQuantity).",
        )
    )
    def product_stock_adjust(
        self,
        id: IdArgument,
        delta: Annotated[
            int, strawberry.argument(description="Units to add (positive) or remove (negative).")
        ],
    ) -> ProductPayload:
        def adjust() -> ProductPayload:
            product = _row(Product, id, "id")
            services.product_stock_adjust(product_id=product.pk, delta=delta)
            product.refresh_from_db()
            return ProductPayload(product=product)  # type: ignore[arg-type]

        return mutation_payload(ProductPayload, adjust)
