from django.db.backends.postgresql.base import DatabaseWrapper as PostgresDatabaseWrapper
from django.db.backends.postgresql.operations import (
    DatabaseOperations as PostgresDatabaseOperations,
)


class DatabaseOperations(PostgresDatabaseOperations):
    compiler_module = "backend.core.postgres.compiler"


class DatabaseWrapper(PostgresDatabaseWrapper):
    ops_class = DatabaseOperations
