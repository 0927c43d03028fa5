"""Categories and products over REST: reads, staff writes, and the bad input they refuse."""

from backend.accounts.tokens import access_token_create
from backend.catalog.models import Category, Product
from tests.api.rest.conftest import RestClient, assert_problem
from tests.factories import category_create, product_create

PRICE = {"amount": "12.50", "currency": "USD"}


def _product_body(category: Category, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "Trail shoe",
        "slug": "trail-shoe",
        "sku": "TS-001",
        "price": PRICE,
        "category": category.pk,
        "stock_quantity": 3,
    }
    return body | overrides


def test_anyone_lists_categories_in_tree_order(anonymous: RestClient) -> None:
    root = category_create(name="Root")
    child = category_create(name="Child", parent=root)
    response = anonymous.get("/api/v1/categories")
    assert response.status_code == 200
    ids = [row["id"] for row in response.json()["results"]]
    assert ids == [root.pk, child.pk]
    assert response.json()["results"][1]["parent"] == root.pk


def test_category_is_retrieved_by_id_or_slug(anonymous: RestClient) -> None:
    category = category_create(slug="shoes")
    by_id = anonymous.get(f"/api/v1/categories/{category.pk}").json()
    by_slug = anonymous.get("/api/v1/categories/shoes").json()
    assert by_id == by_slug
    assert by_id["slug"] == "shoes"
    assert_problem(anonymous.get("/api/v1/categories/no-such-slug"), 404, "NOT_FOUND")


def test_staff_creates_updates_and_deletes_a_category(staff: RestClient) -> None:
    parent = category_create()
    created = staff.post(
        "/api/v1/categories", {"name": "Boots", "slug": "boots", "parent": parent.pk}
    )
    assert created.status_code == 201, created.content
    category_id = created.json()["id"]
    assert created.json()["path"] == f"{parent.path}{category_id}/"
    renamed = staff.patch(f"/api/v1/categories/{category_id}", {"name": "Winter boots"})
    assert renamed.json()["name"] == "Winter boots"
    assert staff.delete(f"/api/v1/categories/{category_id}").status_code == 204
    assert not Category.objects.filter(pk=category_id).exists()


def test_customer_cannot_create_a_category(customer: RestClient) -> None:
    response = customer.post("/api/v1/categories", {"name": "X", "slug": "x"})
    assert_problem(response, 403, "FORBIDDEN")
    assert not Category.objects.filter(slug="x").exists()


def test_anonymous_write_is_unauthenticated(anonymous: RestClient) -> None:
    response = anonymous.post("/api/v1/categories", {"name": "X", "slug": "x"})
    assert_problem(response, 401, "UNAUTHENTICATED")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_bad_token_is_refused_not_served_anonymously(anonymous: RestClient) -> None:
    response = anonymous.get("/api/v1/products", headers={"Authorization": "Bearer nonsense"})
    body = assert_problem(response, 401, "UNAUTHENTICATED")
    assert body["errors"][0]["code"] == "TOKEN_INVALID"


def test_duplicate_category_slug_is_slug_taken(staff: RestClient) -> None:
    category_create(slug="taken")
    body = assert_problem(
        staff.post("/api/v1/categories", {"name": "X", "slug": "taken"}), 409, "SLUG_TAKEN"
    )
    assert body["errors"][0]["field"] == "slug"


def test_moving_a_category_under_its_child_is_a_cycle(staff: RestClient) -> None:
    root = category_create()
    child = category_create(parent=root)
    response = staff.patch(f"/api/v1/categories/{root.pk}", {"parent": child.pk})
    assert_problem(response, 400, "CATEGORY_CYCLE")
    root.refresh_from_db()
    assert root.parent_id is None


def test_non_empty_category_cannot_be_deleted(staff: RestClient) -> None:
    product = product_create()
    response = staff.delete(f"/api/v1/categories/{product.category_id}")
    assert_problem(response, 409, "CATEGORY_NOT_EMPTY")
    assert Category.objects.filter(pk=product.category_id).exists()


def test_missing_fields_are_field_errors(staff: RestClient) -> None:
    body = assert_problem(staff.post("/api/v1/categories", {"name": "X"}), 400, "INVALID")
    assert {"field": "slug", "code": "INVALID", "message": "This field is required."} in body[
        "errors"
    ]


def test_malformed_json_is_a_400_problem(staff: RestClient) -> None:
    response = staff.client.post(
        "/api/v1/categories",
        data="{not json",
        content_type="application/json",
        headers={"Authorization": _bearer(staff)},
    )
    assert_problem(response, 400, "PARSE_ERROR")


def _bearer(client: RestClient) -> str:
    assert client.user is not None
    return f"Bearer {access_token_create(client.user)}"


def test_product_money_is_a_decimal_string_with_currency(anonymous: RestClient) -> None:
    product = product_create(price="12.50")
    body = anonymous.get(f"/api/v1/products/{product.pk}").json()
    assert body["price"] == {"amount": "12.50", "currency": "USD"}
    assert body["in_stock"] is True


def test_unpublished_products_are_visible_to_staff_only(
    anonymous: RestClient, staff: RestClient
) -> None:
    hidden = product_create(is_published=False)
    assert_problem(anonymous.get(f"/api/v1/products/{hidden.pk}"), 404, "NOT_FOUND")
    assert anonymous.get("/api/v1/products").json()["results"] == []
    assert staff.get(f"/api/v1/products/{hidden.pk}").status_code == 200
    assert [p["id"] for p in staff.get("/api/v1/products").json()["results"]] == [hidden.pk]


def test_category_filter_includes_descendants(anonymous: RestClient) -> None:
    root = category_create()
    leaf = category_create(parent=category_create(parent=root))
    in_leaf = product_create(category=leaf)
    product_create()  # elsewhere
    response = anonymous.get("/api/v1/products", {"category": root.pk})
    assert [p["id"] for p in response.json()["results"]] == [in_leaf.pk]


def test_price_stock_and_search_filters(anonymous: RestClient) -> None:
    cheap = product_create(name="Red kettle", price="5.00", stock_quantity=0)
    dear = product_create(name="Blue kettle", price="50.00")

    def ids(params: dict[str, str]) -> list[int]:
        return [p["id"] for p in anonymous.get("/api/v1/products", params).json()["results"]]

    assert ids({"price_min": "10"}) == [dear.pk]
    assert ids({"price_max": "10"}) == [cheap.pk]
    assert ids({"in_stock": "false"}) == [cheap.pk]
    assert ids({"search": "red"}) == [cheap.pk]


def test_ordering_by_price_breaks_ties_by_id(anonymous: RestClient) -> None:
    a = product_create(price="20.00")
    b = product_create(price="10.00")
    c = product_create(price="10.00")
    response = anonymous.get("/api/v1/products", {"ordering": "price"})
    assert [p["id"] for p in response.json()["results"]] == [b.pk, c.pk, a.pk]
    response = anonymous.get("/api/v1/products", {"ordering": "-price"})
    assert [p["id"] for p in response.json()["results"]] == [a.pk, c.pk, b.pk]


def test_cursor_pages_cover_every_product_once(anonymous: RestClient) -> None:
    created = {product_create(price="10.00").pk for _ in range(5)}
    seen: list[int] = []
    url: str | None = "/api/v1/products?page_size=2&ordering=price"
    while url:
        body = anonymous.get(url).json()
        seen.extend(p["id"] for p in body["results"])
        url = body["next"]
    assert sorted(seen) == sorted(created)


def test_bad_list_parameters_are_400_problems(anonymous: RestClient) -> None:
    for params in (
        {"ordering": "sku"},
        {"page_size": "101"},
        {"page_size": "0"},
        {"price_min": "abc"},
        {"price_min": "10", "price_max": "1"},
        {"search": "!!!"},
        {"in_stock": "maybe"},
        {"cursor": "garbage"},
        {"price_min": "1e400"},
    ):
        assert_problem(anonymous.get("/api/v1/products", params), 400, "INVALID")


def test_staff_creates_updates_and_deletes_a_product(staff: RestClient) -> None:
    category = category_create()
    created = staff.post("/api/v1/products", _product_body(category))
    assert created.status_code == 201, created.content
    product_id = created.json()["id"]
    updated = staff.patch(
        f"/api/v1/products/{product_id}", {"price": {"amount": "9.90", "currency": "USD"}}
    )
    assert updated.json()["price"]["amount"] == "9.90"
    assert staff.delete(f"/api/v1/products/{product_id}").status_code == 204
    assert not Product.objects.filter(pk=product_id).exists()


def test_product_create_refusals_use_catalog_codes(staff: RestClient) -> None:
    category = category_create()
    product_create(sku="DUP")
    assert_problem(
        staff.post("/api/v1/products", _product_body(category, sku="DUP")), 409, "SKU_TAKEN"
    )
    negative = _product_body(category, price={"amount": "-1.00", "currency": "USD"})
    assert_problem(staff.post("/api/v1/products", negative), 400, "PRICE_INVALID")
    third_decimal = _product_body(category, price={"amount": "1.005", "currency": "USD"})
    assert_problem(staff.post("/api/v1/products", third_decimal), 400, "PRICE_INVALID")
    euros = _product_body(category, price={"amount": "1.00", "currency": "EUR"})
    body = assert_problem(staff.post("/api/v1/products", euros), 400, "INVALID")
    assert body["errors"][0]["field"] == "price.currency"
    missing_category = _product_body(category) | {"category": 10**6}
    body = assert_problem(staff.post("/api/v1/products", missing_category), 400, "NOT_FOUND")
    assert body["errors"][0]["field"] == "category"
    assert not Product.objects.filter(slug="trail-shoe").exists()


def test_customer_cannot_create_a_product(customer: RestClient) -> None:
    response = customer.post("/api/v1/products", _product_body(category_create()))
    assert_problem(response, 403, "FORBIDDEN")


def test_stock_adjust_adds_and_refuses_going_negative(staff: RestClient) -> None:
    product = product_create(stock_quantity=2)
    added = staff.post(f"/api/v1/products/{product.pk}/stock-adjust", {"delta": 3})
    assert added.json()["stock_quantity"] == 5
    response = staff.post(f"/api/v1/products/{product.pk}/stock-adjust", {"delta": -6})
    assert_problem(response, 409, "INSUFFICIENT_STOCK")
    product.refresh_from_db()
    assert product.stock_quantity == 5
    too_big = staff.post(f"/api/v1/products/{product.pk}/stock-adjust", {"delta": 2**40})
    assert too_big.status_code == 400


def test_customer_cannot_adjust_stock(customer: RestClient) -> None:
    product = product_create(stock_quantity=2)
    response = customer.post(f"/api/v1/products/{product.pk}/stock-adjust", {"delta": 5})
    assert_problem(response, 403, "FORBIDDEN")
    product.refresh_from_db()
    assert product.stock_quantity == 2


def test_unknown_product_id_is_404(anonymous: RestClient) -> None:
    assert_problem(anonymous.get("/api/v1/products/999999"), 404, "NOT_FOUND")
    assert_problem(anonymous.get(f"/api/v1/products/{10**30}"), 404, "NOT_FOUND")
