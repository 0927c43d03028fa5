"""ASGI entry point: HTTP to Django (WebSocket routing is added with subscriptions)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

application = get_asgi_application()
