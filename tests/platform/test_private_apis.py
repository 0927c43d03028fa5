"""The private APIs the fast paths use (decision 0020), and the versions they were verified on.

pyproject.toml pins Django, strawberry-graphql, strawberry-graphql-django, graphql-core and
asgiref with ``==``. An upgrade fails ``test_the_installed_versions_are_the_verified_ones``
first; then every symbol listed here must still exist with the shape listed, the Django code
``backend/core/rows.py`` mirrors must be unchanged, and `make test` must pass (it runs the
GraphQL and REST suites with the fast paths on and off). Update the pins, ``VERIFIED`` and the
lists below together. psycopg is not pinned: the fast paths use only its public API
(``Cursor.execute(prepare=...)``), through Django's ``ServerBindingCursor``.
"""

import hashlib
import importlib
import inspect
import re
import tomllib
from importlib.metadata import version
from typing import Any

import asgiref.sync
import pytest
from graphql.execution.executor import Executor
from strawberry import Info

from backend.api.schema import schema
from backend.catalog.models import Product
from tests.paths import REPO_ROOT

VERIFIED = {
    "django": "6.1.3",
    "strawberry-graphql": "0.341.2",
    "strawberry-graphql-django": "0.93.0",
    "graphql-core": "3.3.2",
    "asgiref": "3.13.0",
}

UPGRADE = "see 'Upgrading' in docs/decisions/0020-fast-paths-fenced.md"

# (module:attribute path, the fast path that uses it). Each must exist on the pinned versions.
PRIVATE_SYMBOLS: list[tuple[str, str]] = [
    # Direct row loading and peer fetching (backend/core/rows.py, backend/api/graphql/rows.py).
    ("django.db.models.query:ModelIterable.__iter__", "rows: the mirrored loop"),
    ("django.db.models.query:RelatedPopulator.populate", "rows: select_related instances"),
    ("django.db.models.query:get_related_populators", "rows: select_related instances"),
    ("django.db.models.base:ModelState.peers", "rows: a page's peers"),
    ("django.db.models.base:ModelState.fetch_mode", "rows: a page's peers"),
    ("django.db.models.fetch_modes:FetchMode.track_peers", "rows: a page's peers"),
    # The SQL shape cache (backend/core/postgres/).
    ("django.db.backends.postgresql.compiler:SQLCompiler.as_sql", "shape cache"),
    ("django.db.backends.postgresql.compiler:SQLCompiler.compile", "shape cache"),
    ("django.db.backends.postgresql.base:ServerBindingCursor", "prepared shapes"),
    ("django.db.backends.postgresql.base:DatabaseWrapper.get_connection_params", "prepared"),
    # Compiled completion (backend/api/graphql/execution.py).
    ("graphql.execution.executor:Executor.complete_object_value", "compiled completion"),
    ("graphql.execution.executor:Executor.collect_subfields", "compiled completion"),
    ("graphql.execution.collect_fields:FieldDetailsList", "compiled completion"),
    ("graphql.execution.collect_fields:CollectedFields", "compiled completion"),
    ("graphql.execution.middleware:MiddlewareManager.middlewares", "compiled completion"),
    ("strawberry.schema.schema:StrawberryGraphQLCoreExecutionContext", "compiled completion"),
    ("strawberry.schema.schema_converter:GraphQLCoreConverter.DEFINITION_BACKREF", "compiled"),
    (
        "strawberry.schema.schema_converter:GraphQLCoreConverter._get_field_exception_handlers",
        "compiled completion",
    ),
    ("strawberry.relay:Node._id", "compiled completion: Relay ids"),
    ("strawberry_django.relay.utils:resolve_model_id", "compiled completion: Relay ids"),
    ("django.db.models.fields.related_descriptors:ForwardManyToOneDescriptor", "compiled"),
    ("django.db.models.query_utils:DeferredAttribute", "compiled completion"),
    ("django.db.models.fields.mixins:FieldCacheMixin.get_cached_value", "compiled completion"),
    # The optimizer's hints per document and its hook (backend/api/graphql/optimizer.py).
    ("strawberry.extensions:SchemaExtension._implements_resolve", "optimizer hook"),
    ("strawberry_django.optimizer:_get_model_hints", "optimizer hints"),
    ("strawberry_django.optimizer:_get_gql_definition", "optimizer hints"),
    ("strawberry_django.optimizer:OptimizerStore.apply", "optimizer hints"),
    ("strawberry_django.optimizer:DjangoOptimizerExtension.enabled", "optimizer hints"),
    ("strawberry_django.optimizer:is_optimized", "optimizer hints"),
    ("strawberry_django.optimizer:optimizer", "connections' optimizer pass"),
    ("strawberry_django.queryset:get_queryset_config", "optimizer hints"),
    ("strawberry_django.utils.inspect:get_possible_concrete_types", "optimizer hints"),
    ("strawberry_django.utils.inspect:is_inheritance_qs", "optimizer hints"),
    # Connections (backend/api/graphql/pagination.py).
    ("strawberry_django.fields.field:StrawberryDjangoField._can_run_qs_hook_inline", "inline"),
    # The database pool gauges (backend/core/metrics.py).
    ("django.db.backends.postgresql.base:DatabaseWrapper._connection_pools", "pool gauges"),
    # Extension hooks looked up once per class (backend/api/graphql/hooks.py).
    ("strawberry.extensions.context:ExtensionContextManagerBase.hooks", "cached hooks"),
    ("strawberry.extensions.context:ExtensionContextManagerBase.get_hook", "cached hooks"),
    ("strawberry.extensions.context:WrappedHook", "cached hooks"),
    ("strawberry.extensions.runner:SchemaExtensionsRunner.get_extensions_results_sync", "hooks"),
    ("strawberry.schema.schema:Schema.create_extensions_runner", "cached hooks"),
    # The process's event loop for DataLoader documents (backend/api/graphql/schema.py).
    ("asgiref.sync:SyncToAsync.threadlocal", "process event loop"),
]

# Parameter names where the fast paths call, override or are called with positional values.
SIGNATURES: dict[str, list[str]] = {
    "django.db.models.base:Model.from_db": ["cls", "db", "field_names", "values", "fetch_mode"],
    "django.db.models.query:get_related_populators": [
        "klass_info",
        "select",
        "db",
        "fetch_mode",
    ],
    "django.db.backends.postgresql.compiler:SQLCompiler.as_sql": [
        "self",
        "with_limits",
        "with_col_aliases",
    ],
    "graphql.execution.executor:Executor.complete_object_value": [
        "self",
        "return_type",
        "field_details_list",
        "info",
        "path",
        "result",
        "position_context",
    ],
    "graphql.execution.executor:Executor.collect_subfields": [
        "self",
        "return_type",
        "field_details_list",
    ],
    "strawberry_django.optimizer:_get_model_hints": [
        "model",
        "schema",
        "object_definition",
        "parent_type",
        "info",
        "config",
        "prefix",
        "cache",
        "level",
        "subclass_collection",
    ],
    "strawberry_django.optimizer:DjangoOptimizerExtension.optimize": [
        "self",
        "qs",
        "info",
        "store",
    ],
    "strawberry_django.fields.field:StrawberryDjangoField._can_run_qs_hook_inline": [
        "self",
        "queryset",
    ],
    "strawberry.extensions.context:ExtensionContextManagerBase.__init__": ["self", "extensions"],
    "strawberry.extensions.context:WrappedHook": ["extension", "hook", "is_async"],
    "strawberry.schema.schema:Schema.create_extensions_runner": [
        "self",
        "execution_context",
        "extensions",
    ],
}

# Django code backend/core/rows.py mirrors or relies on line by line (sha256 of its source).
MIRRORED_SOURCE = {
    "django.db.models.query:ModelIterable.__iter__": "ecb74201bf2b1945",
    "django.db.models.query:RelatedPopulator.populate": "18ad7db51aeccf14",
}

# Attributes of instances (not of classes) read or set by the fast paths.
QUERYSET_ATTRIBUTES = ["_iterable_class", "_fetch_mode", "_known_related_objects", "_result_cache"]
QUERY_ATTRIBUTES = [
    "alias_map",
    "alias_refcount",
    "alias_prefix",
    "alias_cols",
    "annotation_select",
    "annotations",
    "combinator",
    "default_cols",
    "default_ordering",
    "deferred_loading",
    "distinct",
    "explain_info",
    "external_aliases",
    "extra",
    "extra_order_by",
    "extra_tables",
    "group_by",
    "high_mark",
    "low_mark",
    "max_depth",
    "select",
    "select_for_update",
    "select_related",
    "selected",
    "standard_ordering",
    "subquery",
    "_filtered_relations",
]
COMPILER_STATE = [
    "select",
    "klass_info",
    "annotation_col_map",
    "col_count",
    "has_extra_select",
    "where",
    "having",
    "qualify",
]


def resolve(path: str) -> Any:
    module_name, _, attributes = path.partition(":")
    target: Any = importlib.import_module(module_name)
    for name in attributes.split("."):
        target = inspect.getattr_static(target, name) if name == "_id" else getattr(target, name)
    return target


def test_the_installed_versions_are_the_verified_ones() -> None:
    installed = {name: version(name) for name in VERIFIED}
    assert installed == VERIFIED, (
        f"installed {installed}, but the fast paths' private APIs were verified on "
        f"{VERIFIED}: {UPGRADE}"
    )


def test_pyproject_pins_exactly_the_verified_versions() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    pins = {}
    for requirement in pyproject["project"]["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", requirement.strip())
        if match:
            pins[match.group(1).lower()] = match.group(3)
    assert {name: pins.get(name) for name in VERIFIED} == VERIFIED, (
        f"pyproject.toml must pin {VERIFIED} with ==: {UPGRADE}"
    )


@pytest.mark.parametrize(("path", "used_by"), PRIVATE_SYMBOLS, ids=[p for p, _ in PRIVATE_SYMBOLS])
def test_a_private_symbol_the_fast_paths_use_exists(path: str, used_by: str) -> None:
    try:
        resolve(path)
    except (ImportError, AttributeError) as error:
        pytest.fail(f"{path} (used by: {used_by}) is gone: {error!r}; {UPGRADE}")


@pytest.mark.parametrize("path", sorted(SIGNATURES))
def test_a_private_signature_the_fast_paths_rely_on_is_unchanged(path: str) -> None:
    parameters = list(inspect.signature(resolve(path)).parameters)
    if path.endswith("Model.from_db"):
        parameters = ["cls", *parameters]  # a bound classmethod
    assert parameters == SIGNATURES[path], f"{path} changed its parameters: {UPGRADE}"


@pytest.mark.parametrize("path", sorted(MIRRORED_SOURCE))
def test_the_django_code_the_direct_loader_mirrors_is_unchanged(path: str) -> None:
    digest = hashlib.sha256(inspect.getsource(resolve(path)).encode()).hexdigest()[:16]
    assert digest == MIRRORED_SOURCE[path], (
        f"{path} changed (sha256 {digest}): compare it with DirectLoadIterable in "
        f"backend/core/rows.py, then record the new digest; {UPGRADE}"
    )


def test_the_private_instance_attributes_the_fast_paths_read_exist() -> None:
    queryset = Product.objects.select_related("category").filter(price__gt=0).order_by("pk")
    compiler = queryset.query.get_compiler(using="default")
    compiler.pre_sql_setup()
    instances = {
        "queryset": queryset,
        "query": queryset.query,
        "compiler": compiler,
        "join": next(iter(queryset.query.alias_map.values())),
        "graphql_schema": schema._schema,
    }
    wanted = [
        *(f"queryset.{name}" for name in QUERYSET_ATTRIBUTES),
        *(f"query.{name}" for name in QUERY_ATTRIBUTES),
        "query.where.contains_aggregate",
        "query.where.contains_over_clause",
        *(f"compiler.{name}" for name in COMPILER_STATE),
        "join.identity",
        "graphql_schema._strawberry_schema",
    ]
    missing = [name for name in wanted if not _has_path(instances, name)]
    if "_raw_info" not in Info.__dataclass_fields__:
        missing.append("strawberry.Info._raw_info")
    missing += [
        f"Executor.{name}"
        for name in ("fragment_definitions", "middleware_manager")
        if name not in Executor.__annotations__
    ]
    assert not missing, f"gone: {missing}; {UPGRADE}"


def test_asgiref_still_reads_the_main_loop_from_its_thread_local() -> None:
    """``run_on_event_loop`` points ``async_to_sync`` at the process's loop by setting the two
    thread-local attributes asgiref's ASGI path sets."""
    source = inspect.getsource(asgiref.sync.AsyncToSync.__call__)
    for name in ("main_event_loop", "main_event_loop_pid"):
        assert f'SyncToAsync.threadlocal, "{name}"' in source, f"{name}: {UPGRADE}"


def _has_path(instances: dict[str, Any], dotted: str) -> bool:
    root, *names = dotted.split(".")
    target = instances[root]
    for name in names:
        if not hasattr(target, name):
            return False
        target = getattr(target, name)
    return True
