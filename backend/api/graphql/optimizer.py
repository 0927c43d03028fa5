"""The schema's query optimizer: strawberry-django's, without its per-field hook, and with the
hints of a field's selection computed once per document."""

from collections.abc import Sequence
from typing import Any, ClassVar

from django.conf import settings
from django.db.models import QuerySet
from django.db.models.manager import BaseManager
from graphql import FieldNode, GraphQLResolveInfo, get_named_type
from graphql.language.ast import OperationType
from strawberry import Info
from strawberry_django.optimizer import (
    DjangoOptimizerExtension,
    OptimizerConfig,
    OptimizerStore,
    _get_gql_definition,
    _get_model_hints,
    is_optimized,
)
from strawberry_django.queryset import get_queryset_config
from strawberry_django.utils.inspect import get_possible_concrete_types, is_inheritance_qs

from backend.api.graphql.execution import has_directives

# Distinct (model, type, selection) hints kept per process, or kept as "compute each time".
HINTS_CACHE_SIZE = 1024


class QuerySetOptimizer(DjangoOptimizerExtension):
    """``DjangoOptimizerExtension`` minus its ``resolve`` hook, with hints reused per document
    (both fast paths, off with ``NEXUS_FAST_PATHS``).

    The hook wraps the resolver of every field (each column of each row) to catch a plain
    Strawberry field returning a ``QuerySet``. This schema has none: strawberry-django fields
    optimize the querysets they return themselves, and connections go through
    ``optimize_connection`` (``tests/api/graphql/catalog/test_query_counts.py`` pins that every
    ``QuerySet``-returning resolver is a strawberry-django field). Without the hook, one call
    layer leaves every resolved field (measured: docs/performance.md, "Levers").
    """

    @classmethod
    def _implements_resolve(cls) -> bool:
        # Strawberry asks this per request to decide whether to wrap every resolver in the
        # hook; with the fast paths off (decision 0020), strawberry-django's hook runs as is.
        return not settings.NEXUS_FAST_PATHS

    _hints: ClassVar[dict[tuple[Any, ...], tuple[tuple[FieldNode, ...], OptimizerStore | None]]]
    _hints = {}

    def optimize(
        self,
        qs: QuerySet[Any] | BaseManager[Any],
        info: GraphQLResolveInfo | Info,
        *,
        store: OptimizerStore | None = None,
    ) -> QuerySet[Any]:
        """strawberry-django's entry point for every field it optimizes (a single object by id
        or slug, ``node``): ``optimize_selection`` on the field's own selection."""
        if store is not None or not isinstance(qs, QuerySet):
            return super().optimize(qs, info, store=store)
        raw_info = info._raw_info if isinstance(info, Info) else info
        return self.optimize_selection(qs, info=raw_info, selection=raw_info.field_nodes)

    def optimize_selection(
        self, queryset: QuerySet[Any], *, info: GraphQLResolveInfo, selection: Sequence[FieldNode]
    ) -> QuerySet[Any]:
        """``optimize``, with the hints for ``selection`` (field nodes of a cached document)
        computed once and reused.

        strawberry-django walks the selection on every request to find the columns to load
        (``only``) and the relations to join (``select_related``); for the same document the
        answer is the same. It is reused only when that is certain: no directive in the
        selection (``@include``/``@skip`` depend on variables), and hints made of columns and
        joins only (a prefetch or an annotation may carry a viewer-dependent queryset). Anything
        else is optimized afresh, exactly as strawberry-django's ``optimize`` does.
        """
        if (
            not settings.NEXUS_FAST_PATHS
            or not self.enabled.get()
            or is_inheritance_qs(queryset)
            or is_optimized(queryset)
            or queryset._result_cache is not None
        ):
            return super().optimize(queryset, info)
        config = self._config(info)
        key = (
            queryset.model,
            get_named_type(info.return_type),
            config.enable_only,
            tuple(map(id, selection)),
        )
        entry = self._hints.get(key)
        if entry is None:
            if len(self._hints) >= HINTS_CACHE_SIZE:
                self._hints.clear()
            entry = (tuple(selection), self._reusable_hints(queryset, info, config, selection))
            self._hints[key] = entry
        store = entry[1]
        if store is None:
            return super().optimize(queryset, info)
        if not store:
            return queryset
        optimized = store.apply(queryset, info=info, config=config)
        get_queryset_config(optimized).optimized = True
        return optimized

    def _config(self, info: GraphQLResolveInfo) -> OptimizerConfig:
        # As DjangoOptimizerExtension.optimize builds it.
        return OptimizerConfig(
            enable_only=self.enable_only and info.operation.operation == OperationType.QUERY,
            enable_select_related=self.enable_select_related,
            enable_prefetch_related=self.enable_prefetch_related,
            enable_annotate=self.enable_annotate_optimization,
            prefetch_custom_queryset=self.prefetch_custom_queryset,
        )

    def _reusable_hints(
        self,
        queryset: QuerySet[Any],
        info: GraphQLResolveInfo,
        config: OptimizerConfig,
        selection: Sequence[FieldNode],
    ) -> OptimizerStore | None:
        """strawberry-django's hints for the selection (as its ``optimize`` computes them), or
        None when they may differ between requests."""
        if any(has_directives(node.selection_set, info.fragments) for node in selection):
            return None
        schema = info.schema._strawberry_schema  # type: ignore[attr-defined]
        strawberry_type = schema.get_type_by_name(get_named_type(info.return_type).name)
        store = OptimizerStore()
        if strawberry_type is None:
            return store
        for definition in get_possible_concrete_types(queryset.model, schema, strawberry_type):
            hints = _get_model_hints(
                queryset.model,
                schema,
                definition,
                parent_type=_get_gql_definition(schema, definition),
                info=info,
                config=config,
            )
            if hints is not None:
                store |= hints
        return None if store.prefetch_related or store.annotate else store
