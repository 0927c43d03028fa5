"""Relay global ids: turning a client's opaque id back into a primary key, strictly."""

import inspect
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from strawberry import Info, relay
from strawberry.extensions import FieldExtension
from strawberry_django.relay.utils import resolve_model_node, resolve_model_nodes
from strawberry_django.resolvers import django_resolver

from backend.api.graphql.errors import BadUserInputError
from backend.core.numbers import MAX_ID, NUMBER_MAX_LENGTH


def global_id_to_pk(global_id: relay.GlobalID, *, type_name: str, field: str) -> int:
    """The primary key inside ``global_id``; ``BadUserInputError`` when it names another type
    or carries something other than a primary key."""
    pk = node_id_pk(global_id.node_id)
    if global_id.type_name != type_name or pk is None or pk > MAX_ID:
        raise BadUserInputError(f"`{field}` is not a valid {type_name} id.", field=field)
    return pk


def node_id_pk(node_id: str) -> int | None:
    """The integer a node id carries: ASCII digits, at most ``NUMBER_MAX_LENGTH`` of them (a
    thousand would reach ``int()``'s digit limit, a server error); None for anything else.
    It may exceed ``MAX_ID``: no row has such a key."""
    if len(node_id) > NUMBER_MAX_LENGTH or not (node_id.isascii() and node_id.isdigit()):
        return None
    return int(node_id)


MAX_NODES = 100


class NodesLimitExtension(FieldExtension):
    """Refuses ``nodes(ids:)`` with more than ``MAX_NODES`` ids: no list in the API is
    unbounded, including the one the client spells out."""

    def _check(self, ids: list[relay.GlobalID]) -> None:
        if len(ids) > MAX_NODES:
            raise BadUserInputError(
                f"`ids` is limited to {MAX_NODES} ids, got {len(ids)}.", field="ids"
            )

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        self._check(kwargs["ids"])
        return next_(source, info, **kwargs)

    async def resolve_async(
        self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any
    ) -> Any:
        self._check(kwargs["ids"])
        result = next_(source, info, **kwargs)
        return await result if inspect.isawaitable(result) else result


def _check_node_ids(node_ids: Iterable[str]) -> None:
    for node_id in node_ids:
        if node_id_pk(node_id) is None:
            raise BadUserInputError("`id` is not a valid global id.", field="id")


class ModelNode(relay.Node):
    """``relay.Node`` for model types whose ids are integer primary keys: an id carrying
    anything else is ``BAD_USER_INPUT`` instead of a database error. Resolution (and so the
    type's ``get_queryset`` visibility) is strawberry-django's."""

    # Named once: otherwise strawberry re-scans every class annotation for a NodeID on each
    # ``id`` it serialises, a large share of a product page (docs/performance.md, "Levers").
    _id_attr: ClassVar[str | None] = "pk"

    @classmethod
    def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False) -> Any:
        node_ids = list(node_ids)
        _check_node_ids(node_ids)
        return django_resolver(resolve_model_nodes)(
            cls, info=info, node_ids=node_ids, required=required
        )

    @classmethod
    def resolve_node(cls, node_id: str, *, info: Info, required: bool = False) -> Any:
        _check_node_ids([node_id])
        return django_resolver(resolve_model_node)(cls, node_id, info=info, required=required)
