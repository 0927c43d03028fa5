from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "backend.api"
    label = "api"
    verbose_name = "Nexus API"

    def ready(self) -> None:
        from django.conf import settings

        from backend.api.graphql.orders.events import order_event_committed_publish
        from backend.api.graphql.views import service_unavailable_response
        from backend.api.graphql.websocket import (
            channel_layer_ready,  # also closes ended sessions' sockets
        )
        from backend.api.rest.framework import service_unavailable_problem
        from backend.core.databases import unavailable_response_register
        from backend.core.metrics import route_transport_register
        from backend.core.views import readiness_check_register
        from backend.orders.events import order_event_committed

        order_event_committed.connect(
            order_event_committed_publish, dispatch_uid="api.order_event_committed_publish"
        )
        # The in-memory layer of the embedded default has no server to probe.
        readiness_check_register(
            "channel_layer", channel_layer_ready, configured=lambda: bool(settings.REDIS_URL)
        )
        # nexus_db_statements_per_request{transport}: the URL patterns of each API.
        route_transport_register("graphql/", "graphql")
        route_transport_register("api/", "rest")
        # A database that cannot be reached: each API's own error shape for its 503.
        unavailable_response_register("/graphql/", service_unavailable_response)
        unavailable_response_register("/api/", service_unavailable_problem)
