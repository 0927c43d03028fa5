"""The API explorers (Swagger UI, ReDoc, GraphiQL) load nothing but Nexus's own files, under a
Content-Security-Policy that allows only 'self', and work in a browser with no network."""

import hashlib
import json
import re
import urllib.parse
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client
from pytest_django.fixtures import Settings

from backend.accounts.tokens import access_token_create
from backend.api.explorers import EXPLORER_CSP_HEADER, GRAPHIQL_MANIFEST
from backend.orders.models import OrderEvent
from backend.orders.services import OrderLine, order_cancel, order_place
from tests.api.websocket.conftest import SUBSCRIBE_STATUS, event_global_id, order_global_id
from tests.conftest import ON_CI, service_url
from tests.factories import category_create, product_create, user_create
from tests.headless_chromium import Page, chromium_path, headless_chromium
from tests.live_server import live_server
from tests.paths import REPO_ROOT

HTML = {"accept": "text/html"}
EXPLORERS = ["/api/docs/", "/api/redoc/", "/graphql/"]
RENDER_TIMEOUT = 15
QUIET_SECONDS = 0.5
# ReDoc shows "API docs by Redocly" with its logo from Redocly's CDN, unconditionally; the CSP
# refuses it (the page renders without it). The one error an explorer may log.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
REDOC_LOGO_REFUSAL = re.compile(
    rf"^Loading the image '{re.escape(REDOC_LOGO)}' violates the following Content Security "
    r"Policy directive"
)


class _Tags(HTMLParser):
    """Every start tag of a page, with its attributes, and the text inside <script>/<style>."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if self.lasttag in {"script", "style"} and data.strip():
            self.inline.append(data)


def _operation_count() -> int:
    schema = yaml.safe_load((REPO_ROOT / "docs" / "openapi.yaml").read_text())
    methods = {"get", "post", "put", "patch", "delete"}
    return sum(method in methods for item in schema["paths"].values() for method in item)


@pytest.mark.parametrize("url", EXPLORERS)
def test_explorer_pages_load_only_local_files_under_a_self_only_csp(db: None, url: str) -> None:
    response = Client().get(url, headers=HTML)
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == EXPLORER_CSP_HEADER
    page = _Tags(response.content.decode())
    assert page.inline == []  # no inline script or style
    assert not any("style" in attrs or "onload" in attrs for _, attrs in page.tags)
    loads = [
        attrs.get("src") or attrs.get("href") or ""
        for tag, attrs in page.tags
        if tag in {"script", "link"}
    ]
    assert any(tag == "script" for tag, _ in page.tags)
    for load in loads:
        if load == "data:,":  # ReDoc's empty favicon: no request at all
            continue
        assert load.startswith("/"), load  # this server's, never another origin's
        path = urllib.parse.unquote(urllib.parse.urlsplit(load).path)
        if path.startswith(static_root := "/" + settings.STATIC_URL):
            assert finders.find(path.removeprefix(static_root)), f"{load} is not a static file"


def test_csp_allows_self_and_nothing_from_elsewhere() -> None:
    directives = dict(
        (name, sources)
        for name, *sources in (part.split() for part in EXPLORER_CSP_HEADER.split(";"))
    )
    assert directives["default-src"] == ["'self'"]
    assert "script-src" not in directives  # scripts fall back to default-src: 'self' alone
    for sources in directives.values():
        for source in sources:
            assert source.startswith("'") or source in {"data:", "blob:"}, source
            assert source not in {"'unsafe-inline'", "'unsafe-eval'"}, source


def test_graphiql_files_are_the_pinned_ones() -> None:
    manifest = json.loads(GRAPHIQL_MANIFEST.read_text())
    vendor = GRAPHIQL_MANIFEST.parent
    pinned = set()
    for asset in manifest["assets"]:
        assert re.fullmatch(r"\d+\.\d+\.\d+", asset["version"]), asset  # exact, not a range
        file = vendor / f"{asset['package']}@{asset['version']}" / asset["file"]
        assert hashlib.sha256(file.read_bytes()).hexdigest() == asset["sha256"], file
        pinned.add(file)
    on_disk = {path for path in vendor.rglob("*") if path.is_file()} - {GRAPHIQL_MANIFEST}
    assert on_disk == pinned


def test_graphiql_page_lists_the_manifest_files_in_order(db: None, settings: Settings) -> None:
    settings.GRAPHQL_INTROSPECTION = True
    page = _Tags(Client().get("/graphql/", headers=HTML).content.decode())
    loaded = [
        urllib.parse.unquote(attrs.get("src") or attrs.get("href") or "")
        for tag, attrs in page.tags
        if tag == "script" or (tag == "link" and attrs.get("rel") == "stylesheet")
    ]
    vendored = [url.split("/graphiql/vendor/", 1)[1] for url in loaded if "/vendor/" in url]
    assets = json.loads(GRAPHIQL_MANIFEST.read_text())["assets"]
    names = [f"{a['package']}@{a['version']}/{a['file']}" for a in assets]
    assert vendored == [n for n in names if n.endswith(".css")] + [
        n for n in names if n.endswith(".js")
    ]


# --- In a browser -------------------------------------------------------------------------


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium. Missing on CI is a failure, never a skip (as for ``service_url``)."""
    executable = chromium_path()
    if executable is None:
        message = "chromium is not installed (Debian: apt-get install chromium)"
        if ON_CI:
            pytest.fail(message + "; .ci/run installs it (CI=true never skips)")
        pytest.skip(message)
    return executable


@pytest.fixture
def explorer_server(chromium: str, tmp_path: Path) -> Iterator[str]:
    """Daphne with the explorers public; yields its base URL."""
    environment = {
        "API_DOCS_PUBLIC": "true",
        "GRAPHQL_INTROSPECTION": "true",
        "REDIS_URL": service_url("REDIS_URL"),
        "JWT_PRIVATE_KEY": settings.JWT_PRIVATE_KEY,  # the key this test signs tokens with
        "JWT_PRIVATE_KEY_FILE": "",
    }
    with live_server(environment, tmp_path / "daphne.log") as base_url:
        yield base_url


def _visit(page: Page, url: str, rendered: str) -> object:
    """Open ``url``, wait until the JavaScript ``rendered`` is truthy, and return its value."""
    page.forget()
    page.open(url)
    return page.wait_for(rendered, RENDER_TIMEOUT)


def _assert_offline_and_quiet(page: Page, base_url: str, *, redoc: bool = False) -> None:
    """The page logged no error and sent no request but to the test server (or for a data:
    or blob: URL). On ReDoc, its logo's refusal is the one error, and the one blocked load."""
    page.settle(QUIET_SECONDS)
    local = (base_url + "/", base_url.replace("http", "ws", 1) + "/", "data:", "blob:")
    assert [url for url in page.sent if not url.startswith(local)] == []
    if redoc:
        assert set(page.blocked) <= {REDOC_LOGO}
        assert [error for error in page.errors if not REDOC_LOGO_REFUSAL.match(error)] == []
    else:
        assert page.blocked == []
        assert page.errors == []


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(90)  # about 15 s on an idle machine: every wait has its own limit
def test_explorers_render_offline_under_their_csp(chromium: str, explorer_server: str) -> None:
    base = explorer_server
    category_create(name="Lighting")
    customer = user_create()
    order = order_place(
        customer=customer, lines=[OrderLine(product_create().pk, 1)], idempotency_key="explorer"
    )
    order_cancel(order_id=order.pk, actor=customer)
    placed = OrderEvent.objects.filter(order=order).order_by("id").first()
    assert placed is not None
    token = access_token_create(customer)

    with headless_chromium(chromium) as page:
        operations = _visit(
            page,
            f"{base}/api/docs/",
            f"document.querySelectorAll('.opblock').length >= {_operation_count()}"
            " && document.querySelectorAll('.opblock').length",
        )
        assert operations == _operation_count()
        _assert_offline_and_quiet(page, base)

        sections = _visit(
            page,
            f"{base}/api/redoc/",
            "document.querySelectorAll('[data-section-id^=\"operation/\"]').length",
        )
        assert sections == _operation_count()
        assert "Log in" in page.evaluate("document.querySelector('.menu-content').innerText")
        _assert_offline_and_quiet(page, base, redoc=True)

        # GraphiQL answers a query over HTTP ...
        query = "{ categories(first: 5) { edges { node { name } } } }"
        _graphiql_run(page, f"{base}/graphql/?q={urllib.parse.quote(query)}")
        answer = page.wait_for(_RESPONSE_WITH.format(text="Lighting"), RENDER_TIMEOUT)
        edges = json.loads(answer)["data"]["categories"]["edges"]
        assert {"node": {"name": "Lighting"}} in edges  # read from PostgreSQL
        _assert_offline_and_quiet(page, base)

        # ... and a subscription over graphql-transport-ws on /graphql/, signed in with the
        # authorization header from its Headers tab: the cancellation, replayed from `since`.
        parameters = {
            "q": SUBSCRIBE_STATUS,
            "variables": json.dumps(
                {"orderId": order_global_id(order), "since": event_global_id(placed)}
            ),
            "headers": json.dumps({"authorization": f"Bearer {token}"}),
        }
        query_string = urllib.parse.urlencode(parameters, quote_via=urllib.parse.quote)  # no "+"
        _graphiql_run(page, f"{base}/graphql/?{query_string}")
        change = page.wait_for(_RESPONSE_WITH.format(text="CANCELLED"), RENDER_TIMEOUT)
        assert json.loads(change)["data"]["orderStatusChanged"]["status"] == "CANCELLED"
        assert f"{base.replace('http', 'ws', 1)}/graphql/" in page.sent
        _assert_offline_and_quiet(page, base)


# The JSON in GraphiQL's response pane once it contains ``text``, read from the pane's editor
# (CodeMirror keeps its instance on its wrapper element).
_RESPONSE_WITH = (
    "(() => {{ const pane = document.querySelector('.graphiql-response .CodeMirror');"
    " const text = pane ? pane.CodeMirror.getValue() : '';"
    " return text.includes({text!r}) ? text : null; }})()"
)


def _graphiql_run(page: Page, url: str) -> None:
    _visit(page, url, "!!document.querySelector('.graphiql-execute-button')")
    page.evaluate("document.querySelector('.graphiql-execute-button').click()")
