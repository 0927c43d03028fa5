"""The orders part of the schema: no unbounded list, staff requirements visible to clients."""

from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLOutputType

from backend.api.schema import schema

# Every list an order type returns and why it is bounded.
BOUNDED_LISTS = {
    ("Order", "items"): "order_place refuses more than ORDER_MAX_LINES lines",
    ("Order", "nextStatuses"): "at most three statuses, from the transition table",
    ("OrderPayload", "errors"): "a service raises one OrderError",
    ("OrderConnection", "edges"): "a page: first/last <= 100",
    ("OrderConnection", "nodes"): "a page: first/last <= 100",
    ("OrderEventConnection", "edges"): "a page: first/last <= 100",
    ("OrderEventConnection", "nodes"): "a page: first/last <= 100",
}


def _is_list(field_type: GraphQLOutputType) -> bool:
    if isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    return isinstance(field_type, GraphQLList)


def test_every_list_of_the_order_types_is_bounded() -> None:
    lists = {
        (name, field_name)
        for name, graphql_type in schema._schema.type_map.items()
        if name.startswith("Order") and isinstance(graphql_type, GraphQLObjectType)
        for field_name, field in graphql_type.fields.items()
        if _is_list(field.type)
    }

    assert lists == set(BOUNDED_LISTS)


def test_staff_only_mutations_say_so_in_their_description() -> None:
    mutations = schema._schema.mutation_type.fields

    for name in ("orderShip", "orderDeliver"):
        assert mutations[name].description.endswith("Requires role: staff.")
    for name in ("orderCreate", "orderCancel", "orderPay"):
        assert mutations[name].description.endswith("Requires role: customer.")
