"""The catalog through both APIs, for every kind of viewer: the same products (each filter,
search, every ordering, across pages), the same stock facts, the same categories, the same
error codes. Where a scenario has an obvious answer it is also checked against the world
itself, so both APIs cannot be wrong the same way."""

from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.accounts.policies import is_staff_user
from backend.catalog.models import Product
from tests.api.parity.conftest import (
    BAD_INPUT,
    REFUSED_TOKEN,
    ROLES,
    Outcome,
    ProductQuery,
    World,
    both,
    gid,
)

pytestmark = pytest.mark.django_db

STAFF_ROLES = {"staff", "superuser"}

BLANK_SEARCHES = ["", " ", "\t", " \n ", "\u3000", "\xa0"]
# (name, question, which products match, or None when only the APIs are compared)
Rule = Callable[[World, Product], bool]
LIST_SCENARIOS: list[tuple[str, ProductQuery, Rule | None]] = [
    ("everything", ProductQuery(), lambda w, p: True),
    (
        "in_category_subtree",
        ProductQuery(in_category="shoes"),
        lambda w, p: p.category_id in {w.categories["shoes"].pk, w.categories["trail"].pk},
    ),
    (
        "exact_category",
        ProductQuery(exact_category="shoes"),
        lambda w, p: p.category_id == w.categories["shoes"].pk,
    ),
    (
        "price_range",
        ProductQuery(price_min="25.00", price_max="89.90"),
        lambda w, p: Decimal("25.00") <= p.price <= Decimal("89.90"),
    ),
    ("in_stock", ProductQuery(in_stock=True), lambda w, p: p.stock_quantity > 0),
    ("sold_out", ProductQuery(in_stock=False), lambda w, p: p.stock_quantity == 0),
    ("published", ProductQuery(published=True), lambda w, p: p.is_published),
    ("unpublished", ProductQuery(published=False), lambda w, p: not p.is_published),
    ("search_by_relevance", ProductQuery(search="trail"), None),
    ("search_by_price", ProductQuery(search="trail", sort="PRICE"), None),
    ("search_typo", ProductQuery(search="kettel"), None),
    (
        "search_in_subtree_by_name",
        ProductQuery(search="trail", in_category="outdoor", sort="NAME", descending=True),
        None,
    ),
    ("search_two_word_typo", ProductQuery(search="trai runer"), None),
    ("search_prefix", ProductQuery(search="tra"), None),
    (
        "search_phrase",
        ProductQuery(search='"trail runner"', sort="CREATED_AT", descending=True),
        lambda w, p: p.name == "Trail runner",
    ),
    (
        "search_exclusion",
        ProductQuery(search="trail -boot -tent", sort="CREATED_AT", descending=True),
        lambda w, p: p.name in {"Trail runner", "Trail prototype"},
    ),
    (
        "search_or",
        ProductQuery(search="kettle or pan", sort="CREATED_AT", descending=True),
        lambda w, p: p.name in {"Kettle", "Pan"},
    ),
    (
        "search_typo_found",
        ProductQuery(search="kettel", sort="CREATED_AT", descending=True),
        lambda w, p: p.name == "Kettle",
    ),
    ("relevance_without_search", ProductQuery(sort="RELEVANCE"), None),
    ("inverted_price_range", ProductQuery(price_min="9", price_max="1"), None),
    ("search_without_words", ProductQuery(search="%%"), None),
    # A blank search (a storefront's empty search box) is no search, newest first, on both.
    *(
        (f"blank_search_{n}", ProductQuery(search=blank), lambda w, p: True)
        for n, blank in enumerate(BLANK_SEARCHES)
    ),
    ("relevance_with_blank_search", ProductQuery(search=" ", sort="RELEVANCE"), None),
    # The text reaches the selector as sent on both: spaces count toward the length limit.
    ("search_padded", ProductQuery(search="  trail  "), None),
    ("search_too_long_by_its_spaces", ProductQuery(search="trail" + " " * 196), None),
    ("blank_search_too_long", ProductQuery(search=" " * 201), None),
]
ORDERINGS = [
    (sort, descending)
    for sort in ("PRICE", "NAME", "CREATED_AT", "UPDATED_AT")
    for descending in (False, True)
]
_COLUMNS = {
    "PRICE": "price",
    "NAME": "name",
    "CREATED_AT": "created_at",
    "UPDATED_AT": "updated_at",
}


def visible(world: World, role: str) -> list[Product]:
    staff = is_staff_user(world.users[role])
    return [p for p in Product.objects.order_by("pk") if staff or p.is_published]


def expected_rows(
    world: World, role: str, rule: Rule, sort: str = "CREATED_AT", descending: bool = True
) -> tuple[str, ...]:
    column = _COLUMNS[sort]
    rows = sorted(
        (p for p in visible(world, role) if rule(world, p)),
        key=lambda p: (getattr(p, column), p.pk),
        reverse=descending,
    )
    return tuple(gid("Product", p.pk) for p in rows)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("scenario", "query", "rule"), LIST_SCENARIOS, ids=[s[0] for s in LIST_SCENARIOS]
)
def test_product_list(
    world: World, role: str, scenario: str, query: ProductQuery, rule: Rule | None
) -> None:
    graphql, rest = both(world, role)
    answers = graphql.products(query), rest.products(query)
    assert answers[0] == answers[1]
    outcome = answers[0]
    staff = role in STAFF_ROLES
    if scenario in {"published", "unpublished"} and not staff:
        assert outcome == Outcome(error="FORBIDDEN")
    elif scenario in {
        "relevance_without_search",
        "relevance_with_blank_search",
        "inverted_price_range",
        "search_without_words",
        "search_too_long_by_its_spaces",
        "blank_search_too_long",
    }:
        assert outcome == Outcome(error=BAD_INPUT)
    elif rule is not None:
        assert outcome.rows == expected_rows(world, role, rule)
    else:
        assert outcome.error is None
        assert outcome.rows
    if outcome.error is None:
        # Exact stock for staff only, on both.
        stocks = {gid("Product", p.pk): p.stock_quantity for p in Product.objects.all()}
        assert outcome.facts == tuple(stocks[row] if staff else None for row in outcome.rows)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(alphabet=' \t\u3000-"%:*|&!()trailkeo', max_size=12))
def test_any_search_text_gets_the_same_answer_from_both(world: World, text: str) -> None:
    """Whatever the text (blank, punctuation, operators, words), the same rows in the same order
    or the same refusal: what a search means is the selector's alone."""
    graphql, rest = both(world, "anonymous")
    assert graphql.products(ProductQuery(search=text)) == rest.products(ProductQuery(search=text))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("sort", "descending"), ORDERINGS)
def test_product_orderings(world: World, role: str, sort: str, descending: bool) -> None:
    """Every order, ties included (equal prices, equal creation times), across pages."""
    query = ProductQuery(sort=sort, descending=descending)
    graphql, rest = both(world, role)
    answer = graphql.products(query)
    assert answer == rest.products(query)
    assert answer.rows == expected_rows(world, role, lambda w, p: True, sort, descending)


@pytest.mark.parametrize("role", ROLES)
def test_search_is_ordered_by_relevance_on_both_unless_asked_otherwise(
    world: World, role: str
) -> None:
    graphql, rest = both(world, role)
    by_default = graphql.products(ProductQuery(search="trail"))
    explicit = ProductQuery(search="trail", sort="RELEVANCE", descending=True)
    assert by_default == rest.products(ProductQuery(search="trail"))
    assert by_default == graphql.products(explicit) == rest.products(explicit)
    newest = ProductQuery(search="trail", sort="CREATED_AT", descending=True)
    assert graphql.products(newest) == rest.products(newest)
    assert set(graphql.products(newest).rows) == set(by_default.rows)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", ["trail_runner", "prototype", "draft_pot"])
def test_product_detail(world: World, role: str, key: str) -> None:
    product = world.products[key]
    graphql, rest = both(world, role)
    answer = graphql.product(product.pk)
    assert answer == rest.product(product.pk)
    if product.is_published or role in STAFF_ROLES:
        stock = product.stock_quantity if role in STAFF_ROLES else None
        assert answer == Outcome(
            rows=(gid("Product", product.pk),), facts=(stock, product.stock_quantity > 0)
        )
    else:
        assert answer == Outcome()  # GraphQL's null, REST's 404 NOT_FOUND


@pytest.mark.parametrize("role", ROLES)
def test_missing_product_is_not_found_on_both(world: World, role: str) -> None:
    graphql, rest = both(world, role)
    assert graphql.product(2**40) == rest.product(2**40) == Outcome()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("scope", ["all", "top_level", "children_of_outdoor"])
def test_categories(world: World, role: str, scope: str) -> None:
    """The same categories in the same sibling order (position, then name, then id)."""
    outdoor = world.categories["outdoor"]
    arguments = {
        "all": {},
        "top_level": {"top_level": True},
        "children_of_outdoor": {"parent": outdoor.pk},
    }[scope]
    graphql, rest = both(world, role)
    listed = graphql.categories(**arguments)
    assert listed == rest.categories(**arguments)
    keys = {
        "all": ["kitchen", "outdoor", "trail", "shoes"],  # positions 0, 1, 1, 2
        "top_level": ["kitchen", "outdoor"],
        "children_of_outdoor": ["shoes"],
    }[scope]
    by_position = sorted(
        (world.categories[key] for key in keys), key=lambda c: (c.position, c.name, c.pk)
    )
    assert listed.rows == tuple(gid("Category", c.pk) for c in by_position)


@pytest.mark.parametrize("role", ROLES)
def test_category_detail(world: World, role: str) -> None:
    graphql, rest = both(world, role)
    for category in world.categories.values():
        answer = graphql.category(category.pk)
        assert answer == rest.category(category.pk) == Outcome(rows=(gid("Category", category.pk),))


@pytest.mark.parametrize("api", ["graphql", "rest"])
def test_a_refused_token_on_a_public_list(world: World, api: str) -> None:
    """A token that was refused is never read as "anonymous" on REST; GraphQL's public
    fields answer as for an anonymous viewer, and its viewer-dependent ones (orders, me) refuse
    it (tests/api/parity/test_orders.py). Recorded in docs/decisions/0019."""
    graphql, rest = both(world, "anonymous", token=REFUSED_TOKEN)
    if api == "rest":
        assert rest.products(ProductQuery()) == Outcome(error="UNAUTHENTICATED")
    else:
        assert graphql.products(ProductQuery()).rows == expected_rows(
            world, "anonymous", lambda w, p: True
        )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("scenario", "query", "rule"), LIST_SCENARIOS, ids=[s[0] for s in LIST_SCENARIOS]
)
def test_product_facets(
    world: World, role: str, scenario: str, query: ProductQuery, rule: Rule | None
) -> None:
    """The same facets on both, refused as the list is, and counting exactly the products
    the list holds (checked against the list's own rows)."""
    graphql, rest = both(world, role)
    answer = graphql.product_facets(query)
    assert answer == rest.product_facets(query)
    listed = graphql.products(query)
    assert answer.error == listed.error
    if answer.error is not None:
        return
    products = {gid("Product", p.pk): p for p in Product.objects.select_related("category")}
    rows = [products[row] for row in listed.rows]
    categories, price_ranges, in_stock = answer.facts
    by_category = Counter(p.category for p in rows)
    assert categories == tuple(
        (gid("Category", c.pk), n)
        for c, n in sorted(by_category.items(), key=lambda item: (-item[1], item[0].name))
    )
    assert sum(count for _, _, count in price_ranges) == len(rows)
    for low, high, count in price_ranges:
        assert count == sum(Decimal(low) <= p.price <= Decimal(high) for p in rows)
    assert in_stock == sum(p.stock_quantity > 0 for p in rows)


SUGGESTIONS = [("tr", 5), ("TRAIL ", 2), ("", 5), ("  k", 1), ("zz", 5), ("t", 10)]
REFUSED_SUGGESTIONS = [("x" * 101, 5), ("t", 0), ("t", 11)]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("prefix", "first"), SUGGESTIONS + REFUSED_SUGGESTIONS)
def test_product_suggest(world: World, role: str, prefix: str, first: int) -> None:
    graphql, rest = both(world, role)
    answer = graphql.product_suggest(prefix, first)
    assert answer == rest.product_suggest(prefix, first)
    if (prefix, first) in REFUSED_SUGGESTIONS:
        assert answer == Outcome(error=BAD_INPUT)
        return
    typed = prefix.lstrip().lower()
    by_key = {
        p.name.lower(): p.name for p in visible(world, role) if p.name.lower().startswith(typed)
    }
    names = [name for _, name in sorted(by_key.items())]
    assert answer == Outcome(facts=tuple(names[:first] if typed else ()))
