"""ASGI entry point: HTTP to Django, WebSockets at ``/graphql/`` to the GraphQL consumer.

Served by Daphne (``make run``). WebSocket protocol, auth, origins and caps: see
``backend.api.graphql.websocket``.
"""

import os

from django.core.asgi import get_asgi_application

from backend.core.tracing import tracing_start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

tracing_start()  # when enabled; before the handler below loads MIDDLEWARE

# Set up Django (apps, settings) before importing anything that touches models.
django_application = get_asgi_application()

from channels.layers import get_channel_layer  # noqa: E402  after Django setup
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  after Django setup
from django.urls import path  # noqa: E402  after Django setup

from backend.api.graphql.websocket import graphql_websocket_app  # noqa: E402  after Django setup
from backend.api.schema import schema  # noqa: E402  after Django setup
from backend.core.startup import freeze_startup_objects  # noqa: E402  after Django setup

# Resolve the channel layer now: importing channels_redis took seconds on a cold machine, and
# a first WebSocket that waits that long is rejected by Daphne's handshake timeout.
get_channel_layer()

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": URLRouter([path("graphql/", graphql_websocket_app(schema))]),
    }
)

freeze_startup_objects()
