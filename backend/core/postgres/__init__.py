"""Django's PostgreSQL backend with a compiler that compiles a query's shape once.

``DATABASE_URL`` (postgres://) and the embedded server both use it; see ``compiler``.
"""
