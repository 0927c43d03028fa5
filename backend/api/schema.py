"""The one GraphQL schema of Nexus, merged from each domain's root types.

A domain joins the API with one import and one entry in ``QUERY_TYPES`` (or
``MUTATION_TYPES`` once a domain has mutations).
"""

from decimal import Decimal

import strawberry
from strawberry import relay
from strawberry.extensions import AddValidationRules
from strawberry.tools import merge_types

from backend.api.graphql.accounts.schema import AccountsMutation, AccountsQuery
from backend.api.graphql.catalog.mutations import CatalogMutation
from backend.api.graphql.catalog.schema import CatalogQuery
from backend.api.graphql.execution import CompilingExecutor
from backend.api.graphql.ids import NodesLimitExtension
from backend.api.graphql.limits import OffLoopRequestLimits, RequestLimits, limit_extensions
from backend.api.graphql.metrics import OperationSignals, StreamedOperationSignals
from backend.api.graphql.money import DECIMAL_SCALAR
from backend.api.graphql.optimizer import QuerySetOptimizer
from backend.api.graphql.orders.schema import OrdersMutation, OrdersQuery
from backend.api.graphql.orders.subscriptions import OrdersSubscription
from backend.api.graphql.schema import NexusSchema
from backend.api.graphql.tracing import OperationTracing
from backend.api.graphql.validation import (
    DocumentValidationCache,
    NoNulInStrings,
    OffLoopDocumentValidationCache,
)


@strawberry.type(description="Fetching any object by its global id.")
class NodeQuery:
    # Defined here, not in a domain: a type holding relay.node() can be built into only one
    # Schema, and this module builds the only one.
    node: relay.Node | None = relay.node(
        description="The object with this global id, or null if it does not exist or is not "
        "visible to the viewer."
    )
    nodes: list[relay.Node | None] = relay.node(
        description="The objects with these global ids (at most 100), in the same order; null "
        "for each that does not exist or is not visible to the viewer.",
        extensions=[NodesLimitExtension()],
    )


QUERY_TYPES: tuple[type, ...] = (NodeQuery, AccountsQuery, CatalogQuery, OrdersQuery)
MUTATION_TYPES: tuple[type, ...] = (AccountsMutation, CatalogMutation, OrdersMutation)

Query = merge_types("Query", QUERY_TYPES)
# merge_types takes no description; the schema-wide description test requires one.
Query.__strawberry_definition__.description = "The root of every read in the Nexus API."  # type: ignore[attr-defined]
Mutation = merge_types("Mutation", MUTATION_TYPES)
Mutation.__strawberry_definition__.description = "The root of every change in the Nexus API."  # type: ignore[attr-defined]
# Served over WebSockets only (graphql-transport-ws at /graphql/, backend/api/graphql/websocket.py).
SUBSCRIPTION_TYPES: tuple[type, ...] = (OrdersSubscription,)
Subscription = merge_types("Subscription", SUBSCRIPTION_TYPES)
Subscription.__strawberry_definition__.description = (  # type: ignore[attr-defined]
    "The root of every live update in the Nexus API (WebSockets, graphql-transport-ws)."
)

# Parses (in RequestLimits, backend.api.graphql.documents) and validations are cached per
# process. A storefront sends a few dozen documents; a client sending endless unique documents
# only evicts, it pays what it would pay uncached. The token limit and the validation rules are
# part of the keys and the other limits are checked on every request, so a cached document is
# never exempt from a limit (tests/api/graphql/contract/test_endpoint_limits.py).
schema = NexusSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    # Factories, not instances: an instance would be shared by concurrent requests.
    extensions=[
        OperationSignals,  # first: it records the result once the others are done with it
        *limit_extensions(),
        lambda: AddValidationRules([NoNulInStrings]),
        DocumentValidationCache,
        QuerySetOptimizer,
    ],
    execution_context_class=CompilingExecutor,
    # On an event loop (every WebSocket operation), parsing and validating a document not seen
    # yet run in a worker thread: a large one never stalls the other sockets of the process.
    # Only there can an operation be a subscription, which the metrics count while it lasts.
    off_loop_extensions={
        OperationSignals: StreamedOperationSignals,
        RequestLimits: OffLoopRequestLimits,
        DocumentValidationCache: OffLoopDocumentValidationCache,
    },
    scalar_overrides={Decimal: DECIMAL_SCALAR},  # bounded parsing of Decimal inputs
    # One span per operation, only in a process that traces (backend/core/tracing.py).
    tracing_extensions=[OperationTracing],
)
