from typing import Any

from django.db.backends.postgresql.base import DatabaseWrapper as PostgresDatabaseWrapper
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.backends.postgresql.operations import (
    DatabaseOperations as PostgresDatabaseOperations,
)

from backend.core.postgres import compiler


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


class DatabaseWrapper(PostgresDatabaseWrapper):
    ops_class = DatabaseOperations

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if params.get("cursor_factory") is ServerBindingCursor:
            params["cursor_factory"] = ShapePreparingCursor
        return params
