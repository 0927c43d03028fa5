"""One scenario, both APIs: the same question asked through GraphQL and through REST.

``Transport`` is what a scenario talks to; ``GraphQL`` and ``Rest`` translate each question
into their own spelling and each answer into an ``Outcome``: the visible rows (as GraphQL
global ids, REST's integer ids mapped to them) in the order the API gave them, walking every
page, or the error code. The two vocabularies of a bad argument (GraphQL's
``BAD_USER_INPUT``, REST's 400 ``INVALID``) are both ``BAD_INPUT``; every other code is the
same word on both.
"""

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from strawberry.relay import to_base64

from backend.accounts.models import User
from backend.accounts.tokens import access_token_create
from backend.catalog.models import Category, Product
from backend.orders.models import Order, OrderStatus
from tests.api.rest.conftest import PROBLEM
from tests.factories import category_create, order_create, product_create, user_create

ROLES = ["anonymous", "customer", "other_customer", "staff", "superuser"]
PAGE_SIZE = 3  # small, so every list crosses pages and its cursors are compared too
BAD_INPUT = "BAD_INPUT"
REFUSED_TOKEN = "not-a-token"


@dataclass(frozen=True)
class Outcome:
    """What a viewer got: rows (global ids, in order) or an error code, never both."""

    rows: tuple[str, ...] = ()
    error: str | None = None
    # Per row, facts the rule under test decides (e.g. the stock a viewer may see).
    facts: tuple[Any, ...] = ()


@dataclass(frozen=True)
class ProductQuery:
    """A product list question in neither API's spelling; ``sort`` is a ``ProductSort`` name."""

    in_category: str | None = None  # a World category key: the category and its subtree
    exact_category: str | None = None  # that category only
    price_min: str | None = None
    price_max: str | None = None
    in_stock: bool | None = None
    published: bool | None = None
    search: str | None = None
    sort: str | None = None
    descending: bool = False


class Transport(Protocol):
    name: str

    def products(self, query: ProductQuery) -> Outcome: ...
    def product_facets(self, query: ProductQuery) -> Outcome: ...
    def product_suggest(self, prefix: str, first: int) -> Outcome: ...
    def product(self, pk: int) -> Outcome: ...
    def categories(self, *, top_level: bool = False, parent: int | None = None) -> Outcome: ...
    def category(self, pk: int) -> Outcome: ...
    def orders(self, *, status: str | None = None, customer: int | None = None) -> Outcome: ...
    def order(self, pk: int) -> Outcome: ...
    def order_action(self, action: str, pk: int) -> Outcome: ...


def gid(type_name: str, pk: int) -> str:
    return to_base64(type_name, pk)


# --- The world every scenario runs in -------------------------------------------------------


@dataclass
class World:
    users: dict[str, User | None]
    categories: dict[str, Category]
    products: dict[str, Product]
    orders: dict[str, Order]


@pytest.fixture
def world(db: None) -> World:
    """Outdoor / Shoes / Trail and Kitchen; published and unpublished products, sold out and
    in stock, ties on price and creation time; orders of two customers in several statuses."""
    outdoor = category_create(name="Outdoor", position=1)
    shoes = category_create(name="Shoes", parent=outdoor, position=2)
    trail = category_create(name="Trail", parent=shoes, position=1)
    kitchen = category_create(name="Kitchen", position=0)
    specs = {
        "trail_runner": (trail, "Trail runner", "89.90", 5, True),
        "trail_boot": (trail, "Trail boot", "129.00", 0, True),
        "road_shoe": (shoes, "Road shoe", "89.90", 12, True),
        "tent": (outdoor, "Tent for trail camping", "240.00", 3, True),
        "prototype": (shoes, "Trail prototype", "99.00", 7, False),
        "kettle": (kitchen, "Kettle", "25.00", 40, True),
        "pan": (kitchen, "Pan", "25.00", 0, True),
        "draft_pot": (kitchen, "Draft pot", "30.00", 2, False),
    }
    products = {
        key: product_create(
            category=category,
            name=name,
            price=price,
            stock_quantity=stock,
            is_published=published,
            description="Grippy outsole for the trail." if "trail" in key else "",
        )
        for key, (category, name, price, stock, published) in specs.items()
    }
    # Ties: equal creation times (the id breaks them) next to distinct ones.
    base = timezone.now() - timedelta(days=1)
    for offset, key in enumerate(products):
        Product.objects.filter(pk=products[key].pk).update(
            created_at=base + timedelta(minutes=offset // 2),
            updated_at=base + timedelta(minutes=10 - offset),
        )
    customer = user_create()
    other_customer = user_create()
    users: dict[str, User | None] = {
        "anonymous": None,
        "customer": customer,
        "other_customer": other_customer,
        "staff": user_create(is_staff=True),
        "superuser": user_create(is_superuser=True),  # is_staff stays False
    }
    kettle, tent = products["kettle"], products["tent"]
    orders = {
        "pending": order_create(customer=customer, products=[(kettle, 1)]),
        "paid": order_create(customer=customer, products=[(tent, 1)], status=OrderStatus.PAID),
        "shipped": order_create(
            customer=customer, products=[(kettle, 2)], status=OrderStatus.SHIPPED
        ),
        "others": order_create(customer=other_customer, products=[(kettle, 1)]),
    }
    categories = {"outdoor": outdoor, "shoes": shoes, "trail": trail, "kitchen": kitchen}
    return World(users, categories, products, orders)


# --- GraphQL --------------------------------------------------------------------------------

PRODUCTS = """query($first: Int!, $after: String, $filter: ProductFilter, $order: ProductOrder) {
  products(first: $first, after: $after, filter: $filter, order: $order) {
    nodes { id stockQuantity } pageInfo { hasNextPage endCursor } } }"""
PRODUCT_FACETS = """query($filter: ProductFilter, $order: ProductOrder) {
  products(first: 1, filter: $filter, order: $order) { facets {
    categories { category { id } count } priceRanges { min max count } inStock { count } } } }"""
PRODUCT_SUGGEST = """query($prefix: String!, $first: Int!) {
  productSuggest(prefix: $prefix, first: $first) }"""
PRODUCT = "query($id: ID!) { product(id: $id) { id stockQuantity inStock } }"
CATEGORIES = """query($first: Int!, $after: String, $filter: CategoryFilter) {
  categories(first: $first, after: $after, filter: $filter) {
    nodes { id } pageInfo { hasNextPage endCursor } } }"""
CATEGORY = "query($id: ID!) { category(id: $id) { id } }"
ORDERS = """query($first: Int!, $after: String, $filter: OrderFilter) {
  orders(first: $first, after: $after, filter: $filter) {
    nodes { id status } pageInfo { hasNextPage endCursor } } }"""
ORDER = "query($id: ID!) { order(id: $id) { id status } }"
ORDER_ACTION = """mutation($id: ID!) { %s(id: $id) { order { id status } errors { code } } }"""
_GRAPHQL_ACTIONS = {
    "cancel": "orderCancel",
    "pay": "orderPay",
    "ship": "orderShip",
    "deliver": "orderDeliver",
}


class GraphQL:
    name = "graphql"

    def __init__(self, world: World, user: User | None, token: str | None = None) -> None:
        self.world, self.user, self.token = world, user, token
        self.client = Client()

    def _post(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        token = self.token or (access_token_create(self.user) if self.user else None)
        response = self.client.post(
            "/graphql/",
            data=json.dumps({"query": query, "variables": variables}),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"} if token else {},
        )
        assert response.status_code in {200, 400}, response.content[:500]
        return response.json()

    @staticmethod
    def _error(body: dict[str, Any]) -> str | None:
        if not body.get("errors"):
            return None
        code = body["errors"][0]["extensions"]["code"]
        return BAD_INPUT if code == "BAD_USER_INPUT" else code

    def _walk(self, query: str, root: str, variables: dict[str, Any], fact: str | None) -> Outcome:
        rows: list[str] = []
        facts: list[Any] = []
        after = None
        while True:
            body = self._post(query, {**variables, "first": PAGE_SIZE, "after": after})
            if (error := self._error(body)) is not None:
                return Outcome(error=error)
            page = body["data"][root]
            rows += [node["id"] for node in page["nodes"]]
            facts += [node[fact] for node in page["nodes"]] if fact else []
            if not page["pageInfo"]["hasNextPage"]:
                return Outcome(rows=tuple(rows), facts=tuple(facts))
            after = page["pageInfo"]["endCursor"]

    def _product_variables(self, query: ProductQuery) -> dict[str, Any]:
        categories = self.world.categories
        product_filter: dict[str, Any] = {}
        if query.in_category:
            product_filter["inCategory"] = gid("Category", categories[query.in_category].pk)
        if query.exact_category:
            product_filter["category"] = gid("Category", categories[query.exact_category].pk)
        if query.price_min or query.price_max:
            product_filter["price"] = {"min": query.price_min, "max": query.price_max}
        for name, value in (
            ("inStock", query.in_stock),
            ("published", query.published),
            ("search", query.search),
        ):
            if value is not None:
                product_filter[name] = value
        order = (
            None
            if query.sort is None
            else {
                "field": query.sort,
                "direction": "DESC" if query.descending else "ASC",
            }
        )
        return {"filter": product_filter, "order": order}

    def products(self, query: ProductQuery) -> Outcome:
        variables = self._product_variables(query)
        return self._walk(PRODUCTS, "products", variables, "stockQuantity")

    def product_facets(self, query: ProductQuery) -> Outcome:
        """The facets as facts: ((category id, count), ...), ((min, max, count), ...), in
        stock."""
        body = self._post(PRODUCT_FACETS, self._product_variables(query))
        if (error := self._error(body)) is not None:
            return Outcome(error=error)
        facets = body["data"]["products"]["facets"]
        return Outcome(
            facts=(
                tuple((c["category"]["id"], c["count"]) for c in facets["categories"]),
                tuple((r["min"], r["max"], r["count"]) for r in facets["priceRanges"]),
                facets["inStock"]["count"],
            )
        )

    def product_suggest(self, prefix: str, first: int) -> Outcome:
        """The names as facts."""
        body = self._post(PRODUCT_SUGGEST, {"prefix": prefix, "first": first})
        if (error := self._error(body)) is not None:
            return Outcome(error=error)
        return Outcome(facts=tuple(body["data"]["productSuggest"]))

    def product(self, pk: int) -> Outcome:
        body = self._post(PRODUCT, {"id": gid("Product", pk)})
        if (error := self._error(body)) is not None:
            return Outcome(error=error)
        node = body["data"]["product"]
        if node is None:
            return Outcome()
        return Outcome(rows=(node["id"],), facts=(node["stockQuantity"], node["inStock"]))

    def categories(self, *, top_level: bool = False, parent: int | None = None) -> Outcome:
        category_filter: dict[str, Any] = {"topLevelOnly": top_level}
        if parent is not None:
            category_filter["parent"] = gid("Category", parent)
        return self._walk(CATEGORIES, "categories", {"filter": category_filter}, None)

    def category(self, pk: int) -> Outcome:
        body = self._post(CATEGORY, {"id": gid("Category", pk)})
        node = body["data"]["category"]
        return Outcome(rows=(node["id"],)) if node else Outcome()

    def orders(self, *, status: str | None = None, customer: int | None = None) -> Outcome:
        order_filter: dict[str, Any] = {}
        if status is not None:
            order_filter["status"] = status
        if customer is not None:
            order_filter["customer"] = gid("User", customer)
        return self._walk(ORDERS, "orders", {"filter": order_filter}, "status")

    def order(self, pk: int) -> Outcome:
        body = self._post(ORDER, {"id": gid("Order", pk)})
        if (error := self._error(body)) is not None:
            return Outcome(error=error)
        node = body["data"]["order"]
        return Outcome(rows=(node["id"],), facts=(node["status"],)) if node else Outcome()

    def order_action(self, action: str, pk: int) -> Outcome:
        mutation = _GRAPHQL_ACTIONS[action]
        body = self._post(ORDER_ACTION % mutation, {"id": gid("Order", pk)})
        if (error := self._error(body)) is not None:
            return Outcome(error=error)
        payload = body["data"][mutation]
        if payload["errors"]:
            return Outcome(error=payload["errors"][0]["code"])
        return Outcome(rows=(payload["order"]["id"],), facts=(payload["order"]["status"],))


# --- REST -----------------------------------------------------------------------------------

_REST_SORTS = {
    "PRICE": "price",
    "NAME": "name",
    "CREATED_AT": "created",
    "UPDATED_AT": "updated",
    "RELEVANCE": "relevance",
}


class Rest:
    name = "rest"

    def __init__(self, world: World, user: User | None, token: str | None = None) -> None:
        self.world, self.user, self.token = world, user, token
        self.client = Client()

    def _request(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        token = self.token or (access_token_create(self.user) if self.user else None)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if method == "get":
            return self.client.get(path, params or {}, headers=headers)
        return self.client.post(path, "{}", content_type="application/json", headers=headers)

    @staticmethod
    def _error(response: Any) -> str | None:
        if response.status_code < 400:
            return None
        assert response["Content-Type"].startswith(PROBLEM), response.content[:300]
        code = response.json()["code"]
        return BAD_INPUT if code == "INVALID" else code

    def _walk(self, path: str, type_name: str, params: dict[str, Any], fact: str | None) -> Outcome:
        rows: list[str] = []
        facts: list[Any] = []
        response = self._request("get", path, {**params, "page_size": PAGE_SIZE})
        while True:
            if (error := self._error(response)) is not None:
                return Outcome(error=error)
            page = response.json()
            rows += [gid(type_name, row["id"]) for row in page["results"]]
            facts += [row[fact] for row in page["results"]] if fact else []
            if not page["next"]:
                return Outcome(rows=tuple(rows), facts=tuple(facts))
            response = self._request("get", page["next"])

    def _one(self, path: str, type_name: str, *facts: str) -> Outcome:
        response = self._request("get", path)
        if response.status_code == 404 and response.json()["code"] == "NOT_FOUND":
            return Outcome()  # not visible: GraphQL's null
        if (error := self._error(response)) is not None:
            return Outcome(error=error)
        row = response.json()
        return Outcome(rows=(gid(type_name, row["id"]),), facts=tuple(row[f] for f in facts))

    def _product_params(self, query: ProductQuery) -> dict[str, Any]:
        categories = self.world.categories
        params: dict[str, Any] = {}
        if query.in_category:
            params["category"] = categories[query.in_category].pk
        if query.exact_category:
            params["category_exact"] = categories[query.exact_category].pk
        for name, value in (("price_min", query.price_min), ("price_max", query.price_max)):
            if value is not None:
                params[name] = value
        for name, flag in (("in_stock", query.in_stock), ("published", query.published)):
            if flag is not None:
                params[name] = "true" if flag else "false"
        if query.search is not None:
            params["search"] = query.search
        if query.sort is not None:
            params["ordering"] = ("-" if query.descending else "") + _REST_SORTS[query.sort]
        return params

    def products(self, query: ProductQuery) -> Outcome:
        params = self._product_params(query)
        return self._walk("/api/v1/products", "Product", params, "stock_quantity")

    def product_facets(self, query: ProductQuery) -> Outcome:
        """As ``GraphQL.product_facets``, category ids mapped to global ids."""
        params = {**self._product_params(query), "facets": "true", "page_size": 1}
        response = self._request("get", "/api/v1/products", params)
        if (error := self._error(response)) is not None:
            return Outcome(error=error)
        facets = response.json()["facets"]
        return Outcome(
            facts=(
                tuple(
                    (gid("Category", c["category"]["id"]), c["count"]) for c in facets["categories"]
                ),
                tuple((r["min"], r["max"], r["count"]) for r in facets["price_ranges"]),
                facets["in_stock"]["count"],
            )
        )

    def product_suggest(self, prefix: str, first: int) -> Outcome:
        params = {"prefix": prefix, "first": first}
        response = self._request("get", "/api/v1/products/suggest", params)
        if (error := self._error(response)) is not None:
            return Outcome(error=error)
        return Outcome(facts=tuple(response.json()["results"]))

    def product(self, pk: int) -> Outcome:
        return self._one(f"/api/v1/products/{pk}", "Product", "stock_quantity", "in_stock")

    def categories(self, *, top_level: bool = False, parent: int | None = None) -> Outcome:
        """In GraphQL's sibling order (``ordering=position``; REST's default is tree order)."""
        params: dict[str, Any] = {"ordering": "position"}
        if top_level:
            params["top_level"] = "true"
        if parent is not None:
            params["parent"] = parent
        return self._walk("/api/v1/categories", "Category", params, None)

    def category(self, pk: int) -> Outcome:
        return self._one(f"/api/v1/categories/{pk}", "Category")

    def orders(self, *, status: str | None = None, customer: int | None = None) -> Outcome:
        params: dict[str, Any] = {}
        if status is not None:
            params["status"] = status
        if customer is not None:
            params["customer"] = customer
        return self._walk("/api/v1/orders", "Order", params, "status")

    def order(self, pk: int) -> Outcome:
        return self._one(f"/api/v1/orders/{pk}", "Order", "status")

    def order_action(self, action: str, pk: int) -> Outcome:
        response = self._request("post", f"/api/v1/orders/{pk}/{action}")
        if (error := self._error(response)) is not None:
            return Outcome(error=error)
        row = response.json()
        return Outcome(rows=(gid("Order", row["id"]),), facts=(row["status"],))


@pytest.fixture(autouse=True)
def no_payment_latency(settings: Any) -> None:
    settings.PAYMENT_GATEWAY_LATENCY_MS = 0


def both(world: World, role: str, token: str | None = None) -> tuple[GraphQL, Rest]:
    user = world.users[role]
    return GraphQL(world, user, token), Rest(world, user, token)


@pytest.fixture
def rolled_back() -> Any:
    """``with rolled_back(): ...``: a write's effects undone, so the other API starts from the
    same world."""

    class RolledBack:
        def __enter__(self) -> None:
            self.atomic = transaction.atomic()
            self.atomic.__enter__()

        def __exit__(self, *exc: object) -> None:
            transaction.set_rollback(True)
            self.atomic.__exit__(*exc)

    return RolledBack
