"""WSGI entry point: HTTP only, the production web server's (decision 0010).

WebSockets need ASGI: ``backend.asgi`` (Daphne) serves them.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

application = get_wsgi_application()

from backend.core.startup import freeze_startup_objects  # noqa: E402  after Django setup

freeze_startup_objects()
