"""The /graphql/ endpoint itself: GET as well as POST, GraphiQL only where allowed."""

from typing import Any

from django.test import Client

from tests.factories import product_create


def test_get_request_runs_a_query(db: None) -> None:
    product_create(name="Lamp")
    response = Client().get("/graphql/", {"query": "{ products(first: 1) { nodes { name } } }"})
    assert response.status_code == 200
    assert response.json()["data"]["products"]["nodes"] == [{"name": "Lamp"}]


def test_graphiql_is_served_to_browsers_only_where_introspection_is_allowed(
    db: None, settings: Any
) -> None:
    settings.GRAPHQL_INTROSPECTION = True
    response = Client().get("/graphql/", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert b"graphiql" in response.content.lower()

    settings.GRAPHQL_INTROSPECTION = False
    response = Client().get("/graphql/", headers={"accept": "text/html"})
    assert b"graphiql" not in response.content.lower()
    assert response.status_code == 406  # HTML only: no response type it accepts is served
    browser_accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = Client().get("/graphql/", headers={"accept": browser_accept})
    assert b"graphiql" not in response.content.lower()
    assert response.status_code == 400  # a GET without a query is then just a bad request


def test_responses_encode_to_the_json_strawberrys_django_encoder_writes() -> None:
    """orjson writes UTF-8 where json.dumps escapes; the decoded documents are equal."""
    import datetime as dt
    import json
    from decimal import Decimal

    from django.core.serializers.json import DjangoJSONEncoder
    from django.utils.translation import gettext_lazy

    from backend.api.graphql.views import NexusGraphQLView
    from backend.api.schema import schema

    sample = {
        "data": {"price": Decimal("12.50"), "name": "Lampe éü", "n": [1, 2.5, None, True]},
        "extensions": {"at": dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)},
        "errors": [{"message": gettext_lazy("Internal server error.")}],
    }
    strawberrys = json.dumps(sample, cls=DjangoJSONEncoder, separators=(",", ":"))
    assert json.loads(NexusGraphQLView(schema=schema).encode_json(sample)) == json.loads(
        strawberrys
    )
