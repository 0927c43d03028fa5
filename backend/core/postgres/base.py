from types import TracebackType
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresDatabaseWrapper
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.backends.postgresql.operations import (
    DatabaseOperations as PostgresDatabaseOperations,
)
from django.db.utils import DatabaseErrorWrapper
from django.utils.functional import cached_property

from backend.core.databases import database_fault_report, database_unavailable
from backend.core.postgres import compiler
from backend.core.routing import transaction_began


class DatabaseOperations(PostgresDatabaseOperations):
    compiler_module = "backend.core.postgres.compiler"


class ShapePreparingCursor(ServerBindingCursor):
    """Lets psycopg prepare a statement (from its fifth run) only if it came from a cached
    shape: a plain SELECT of columns, whose generic plan PostgreSQL can judge (decision 0016).

    Any other statement is never prepared. A generic plan is chosen on estimated costs, and
    for full-text search those estimates were far off: its prepared statement switched to a
    generic plan several times slower than its custom plans (decision 0016 has the timings).
    """

    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, **kwargs: Any
    ) -> Any:
        if prepare is None and query not in compiler.preparable_statements:
            prepare = False
        return super().execute(query, params, prepare=prepare, **kwargs)


class FaultReportingErrorWrapper(DatabaseErrorWrapper):
    """Django's mapping of psycopg's errors to its own, reporting each one that means the
    database could not be reached, where it happens (connecting, or running a statement)."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            super().__exit__(exc_type, exc_value, traceback)
        except DatabaseError as error:
            if database_unavailable(error):
                database_fault_report(self.wrapper, error)
            raise


class DatabaseWrapper(PostgresDatabaseWrapper):
    """Tells the platform what read routing and fault handling need: a transaction opened on
    the primary (``backend.core.routing``), and a database that could not be reached
    (``backend.core.databases``)."""

    ops_class = DatabaseOperations

    @cached_property
    def wrap_database_errors(self) -> DatabaseErrorWrapper:
        return FaultReportingErrorWrapper(self)

    def set_autocommit(
        self, autocommit: bool, force_begin_transaction_with_broken_autocommit: bool = False
    ) -> None:
        if not autocommit and self.alias == DEFAULT_DB_ALIAS:
            transaction_began()
        super().set_autocommit(autocommit, force_begin_transaction_with_broken_autocommit)

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if params.get("cursor_factory") is ServerBindingCursor:
            params["cursor_factory"] = ShapePreparingCursor
        return params
