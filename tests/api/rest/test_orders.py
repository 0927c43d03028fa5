"""Orders over REST: placing with an Idempotency-Key, visibility, and the status machine."""

from typing import Any

from backend.orders.models import Order, OrderStatus
from tests.api.rest.conftest import RestClient, assert_problem
from tests.factories import order_create, product_create


def _place(client: RestClient, lines: list[dict[str, int]], key: str = "key-1") -> object:
    return client.post("/api/v1/orders", {"lines": lines}, headers={"Idempotency-Key": key})


def test_customer_places_an_order_and_stock_is_taken(customer: RestClient) -> None:
    product = product_create(price="12.50", stock_quantity=5)
    response = _place(customer, [{"product_id": product.pk, "quantity": 2}])
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "PENDING"
    assert body["total"] == {"amount": "25.00", "currency": "USD"}
    assert body["items"][0]["unit_price"] == {"amount": "12.50", "currency": "USD"}
    assert body["next_statuses"] == ["PAID", "CANCELLED", "EXPIRED"]
    product.refresh_from_db()
    assert product.stock_quantity == 3


def test_repeating_the_idempotency_key_returns_the_same_order(customer: RestClient) -> None:
    product = product_create(stock_quantity=5)
    lines = [{"product_id": product.pk, "quantity": 1}]
    first = _place(customer, lines).json()
    second = _place(customer, lines).json()
    assert first["id"] == second["id"]
    assert Order.objects.count() == 1
    reused = _place(customer, [{"product_id": product.pk, "quantity": 2}])
    assert_problem(reused, 409, "IDEMPOTENCY_KEY_REUSED")


def test_order_without_idempotency_key_is_refused(customer: RestClient) -> None:
    product = product_create()
    response = customer.post(
        "/api/v1/orders", {"lines": [{"product_id": product.pk, "quantity": 1}]}
    )
    body = assert_problem(response, 400, "IDEMPOTENCY_KEY_INVALID")
    assert body["errors"][0]["field"] == "Idempotency-Key"
    assert not Order.objects.exists()


def test_order_refusals_carry_order_codes(customer: RestClient) -> None:
    product = product_create(stock_quantity=1)
    assert_problem(_place(customer, []), 400, "EMPTY_ORDER")
    body = assert_problem(
        _place(customer, [{"product_id": product.pk, "quantity": 2}]), 409, "INSUFFICIENT_STOCK"
    )
    assert body["errors"][0]["field"] == "lines.0.product_id"  # the REST body's spelling
    assert_problem(
        _place(customer, [{"product_id": product.pk, "quantity": 0}]), 400, "QUANTITY_INVALID"
    )
    assert_problem(
        _place(customer, [{"product_id": 10**6, "quantity": 1}]), 400, "PRODUCT_UNAVAILABLE"
    )
    body = assert_problem(_place(customer, [{"product_id": "x", "quantity": 1}]), 400, "INVALID")
    assert body["errors"][0]["field"] == "lines.0.product_id"
    assert not Order.objects.exists()


def test_anonymous_cannot_place_or_list_orders(anonymous: RestClient) -> None:
    assert_problem(_place(anonymous, []), 401, "UNAUTHENTICATED")
    assert_problem(anonymous.get("/api/v1/orders"), 401, "UNAUTHENTICATED")


def test_customer_cannot_read_another_customers_order(customer: RestClient) -> None:
    others = order_create()
    assert_problem(customer.get(f"/api/v1/orders/{others.pk}"), 404, "NOT_FOUND")
    assert customer.get("/api/v1/orders").json()["results"] == []
    assert_problem(customer.post(f"/api/v1/orders/{others.pk}/cancel"), 404, "NOT_FOUND")
    others.refresh_from_db()
    assert others.status == OrderStatus.PENDING


def test_staff_lists_every_order_newest_first(staff: RestClient) -> None:
    older, newer = order_create(), order_create()
    ids = [order["id"] for order in staff.get("/api/v1/orders").json()["results"]]
    assert ids == [newer.pk, older.pk]


def test_customer_cancels_own_order_and_stock_returns(customer: RestClient) -> None:
    product = product_create(stock_quantity=5)
    order_id = _place(customer, [{"product_id": product.pk, "quantity": 2}]).json()["id"]
    response = customer.post(f"/api/v1/orders/{order_id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "CANCELLED"
    product.refresh_from_db()
    assert product.stock_quantity == 5
    again = customer.post(f"/api/v1/orders/{order_id}/cancel")
    body = assert_problem(again, 409, "ORDER_TRANSITION_INVALID")
    assert body["errors"][0]["field"] == "status"


def test_paid_order_is_shipped_and_delivered_by_staff(
    customer: RestClient, staff: RestClient, django_capture_on_commit_callbacks: Any
) -> None:
    product = product_create(stock_quantity=5)
    order_id = _place(customer, [{"product_id": product.pk, "quantity": 1}]).json()["id"]
    # Celery runs in-process in tests: the charge runs in the after-commit callback.
    with django_capture_on_commit_callbacks(execute=True):
        paying = customer.post(f"/api/v1/orders/{order_id}/pay")
    assert paying.json()["status"] == "PENDING"  # the response precedes the charge
    assert Order.objects.get(pk=order_id).status == OrderStatus.PAID
    assert_problem(customer.post(f"/api/v1/orders/{order_id}/ship"), 403, "FORBIDDEN")
    assert_problem(
        staff.post(f"/api/v1/orders/{order_id}/deliver"), 409, "ORDER_TRANSITION_INVALID"
    )
    assert staff.post(f"/api/v1/orders/{order_id}/ship").json()["status"] == "SHIPPED"
    assert staff.post(f"/api/v1/orders/{order_id}/deliver").json()["status"] == "DELIVERED"


def test_staff_cannot_pay_for_a_customers_order(staff: RestClient) -> None:
    order = order_create()
    body = assert_problem(staff.post(f"/api/v1/orders/{order.pk}/pay"), 403, "FORBIDDEN")
    assert [error["code"] for error in body["errors"]] == ["PERMISSION_DENIED"]


def test_unknown_order_is_404(staff: RestClient) -> None:
    assert_problem(staff.get("/api/v1/orders/999999"), 404, "NOT_FOUND")
    assert_problem(staff.post("/api/v1/orders/999999/ship"), 404, "NOT_FOUND")
    assert_problem(staff.post(f"/api/v1/orders/{10**30}/ship"), 404, "NOT_FOUND")


def _listed(client: RestClient, params: dict[str, Any]) -> list[int]:
    response = client.get("/api/v1/orders", params)
    assert response.status_code == 200, response.content
    return [order["id"] for order in response.json()["results"]]


def test_orders_list_filters_by_status_repeated_for_several(staff: RestClient) -> None:
    pending = order_create()
    paid = order_create(status=OrderStatus.PAID)
    shipped = order_create(status=OrderStatus.SHIPPED)
    order_create(status=OrderStatus.CANCELLED)
    assert _listed(staff, {"status": "PAID"}) == [paid.pk]
    assert _listed(staff, {"status": ["PAID", "SHIPPED"]}) == [shipped.pk, paid.pk]
    assert _listed(staff, {"status": "EXPIRED"}) == []
    assert len(_listed(staff, {})) == 4
    # The filter is the list's: an order's own URL takes no query parameter and names it.
    assert staff.get(f"/api/v1/orders/{pending.pk}").status_code == 200
    assert_problem(staff.get(f"/api/v1/orders/{pending.pk}", {"status": "PAID"}), 400, "INVALID")


def test_status_filter_keeps_a_customer_to_their_own_orders(customer: RestClient) -> None:
    own = order_create(customer=customer.user, status=OrderStatus.PAID)
    order_create(status=OrderStatus.PAID)
    assert _listed(customer, {"status": "PAID"}) == [own.pk]


def test_unknown_status_is_a_400_problem_naming_the_parameter(staff: RestClient) -> None:
    for value in ("LOST", "paid", "PAID,SHIPPED", ["PAID", "LOST"], "x" * 10_000):
        body = assert_problem(staff.get("/api/v1/orders", {"status": value}), 400, "INVALID")
        assert [error["field"] for error in body["errors"]] == ["status"]
