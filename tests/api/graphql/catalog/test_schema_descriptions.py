"""Frontends generate typed hooks and docs from the schema: nothing may go undescribed."""

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
)

from backend.api.schema import schema

# Scalars defined by the GraphQL specification itself, described there.
SPEC_SCALARS = {"String", "Int", "Float", "Boolean", "ID"}


def missing_descriptions() -> list[str]:
    missing: list[str] = []
    for name, graphql_type in schema._schema.type_map.items():
        if name.startswith("__") or name in SPEC_SCALARS:
            continue
        if not graphql_type.description:
            missing.append(f"type {name}")
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in graphql_type.fields.items():
                if not field.description:
                    missing.append(f"field {name}.{field_name}")
                for arg_name, arg in field.args.items():
                    if not arg.description:
                        missing.append(f"argument {name}.{field_name}({arg_name})")
        elif isinstance(graphql_type, GraphQLInputObjectType):
            for field_name, field in graphql_type.fields.items():
                if not field.description:
                    missing.append(f"input field {name}.{field_name}")
        elif isinstance(graphql_type, GraphQLEnumType):
            for value_name, value in graphql_type.values.items():
                if not value.description:
                    missing.append(f"enum value {name}.{value_name}")
        else:
            assert isinstance(graphql_type, GraphQLScalarType | GraphQLUnionType)
    return missing


def test_every_type_field_argument_and_enum_value_has_a_description() -> None:
    assert missing_descriptions() == []


def test_schema_prints_as_sdl_with_the_catalog_root_fields() -> None:
    sdl = schema.as_str()
    for root_field in ("node(", "nodes(", "categories(", "category(", "products(", "product("):
        assert root_field in sdl


CATALOG_OUTPUT_TYPES = {
    "Query",
    "Category",
    "Product",
    "CategoryConnection",
    "ProductConnection",
    "ProductFacets",
}
CATALOG_ROOT_FIELDS = {
    "node",
    "nodes",
    "categories",
    "category",
    "products",
    "product",
    "productSuggest",
}


def test_no_catalog_list_field_is_unbounded() -> None:
    """Every catalog list is a page of a connection, bounded by the tree depth
    (``ancestors``), by the ids the client sends (``nodes``, capped at 100), by ``first``
    (``productSuggest``, capped at 10) or by a constant (facets: the largest categories, at most
    five price ranges)."""
    bounded = {
        ("Query", "nodes"),
        ("Query", "productSuggest"),
        ("ProductFacets", "categories"),
        ("ProductFacets", "priceRanges"),
        ("Category", "ancestors"),
        ("CategoryConnection", "edges"),
        ("CategoryConnection", "nodes"),
        ("ProductConnection", "edges"),
        ("ProductConnection", "nodes"),
    }
    lists = set()
    for name in CATALOG_OUTPUT_TYPES:
        graphql_type = schema._schema.type_map[name]
        assert isinstance(graphql_type, GraphQLObjectType)
        for field_name, field in graphql_type.fields.items():
            if name == "Query" and field_name not in CATALOG_ROOT_FIELDS:
                continue  # other domains' root fields are theirs to bound
            if "[" in str(field.type):
                lists.add((name, field_name))
    assert lists == bounded
