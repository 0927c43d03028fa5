"""Debian's headless Chromium, driven over the DevTools protocol, cut off from every network but
the local test server.

For tests of pages as a browser renders them: a page is loaded, the test waits for a JavaScript
condition, and reads what the page logged and requested. No WebDriver: the protocol's WebSocket
(``websockets``, a test dependency) is all it takes.

Outside the loopback interface nothing answers: host names resolve to nothing
(``--host-resolver-rules``) and every other address goes to a proxy that refuses
(``--proxy-server``; Chromium never proxies loopback addresses).
"""

import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from websockets.sync.client import ClientConnection, connect

# Debian's name, then the one other distributions (and GitHub's runner images) use.
CHROMIUM_NAMES = ("chromium", "chromium-browser")
START_TIMEOUT = 15
# A port nothing listens on: the discard service's, which no test machine runs.
REFUSING_PROXY = "127.0.0.1:9"


def chromium_path() -> str | None:
    return next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)


@dataclass
class Page:
    """One tab: what it logged as an error, and the URL of every request it made (``sent``)
    or that Chromium refused before sending (``blocked``: by the page's CSP, for one)."""

    connection: ClientConnection
    session_id: str
    errors: list[str] = field(default_factory=list)
    requests: dict[str, str] = field(default_factory=dict)  # by request id
    blocked: list[str] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def command(self, method: str, timeout: float = 10, **params: Any) -> dict[str, Any]:
        command_id = next(self._ids)
        self.connection.send(
            json.dumps(
                {"id": command_id, "method": method, "params": params, "sessionId": self.session_id}
            )
        )
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline - time.monotonic())
            assert message is not None, f"no answer to {method} in {timeout} s"
            if message.get("id") == command_id:
                assert "error" not in message, f"{method}: {message['error']}"
                return message["result"]

    def _receive(self, timeout: float) -> dict[str, Any] | None:
        """The next message (events are recorded on the way), or None after ``timeout``."""
        try:
            message = json.loads(self.connection.recv(timeout=max(timeout, 0)))
        except TimeoutError:
            return None
        self._record(message.get("method"), message.get("params", {}))
        return message

    def _record(self, event: str | None, params: dict[str, Any]) -> None:
        if event == "Runtime.consoleAPICalled" and params["type"] in {"error", "assert"}:
            self.errors.append(
                " ".join(str(arg.get("value", arg.get("description"))) for arg in params["args"])
            )
        elif event == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description", details["text"]))
        elif event == "Log.entryAdded" and params["entry"]["level"] == "error":
            # Failed loads, CSP refusals and other browser-side errors.
            entry = params["entry"]
            self.errors.append(f"{entry['text']} ({entry.get('url', '')})")
        elif event == "Network.requestWillBeSent":
            self.requests[params["requestId"]] = params["request"]["url"]
        elif event == "Network.webSocketCreated":
            self.requests[params["requestId"]] = params["url"]
        elif event == "Network.loadingFailed" and params.get("blockedReason"):
            self.blocked.append(self.requests.pop(params["requestId"]))

    @property
    def sent(self) -> list[str]:
        return list(self.requests.values())

    def forget(self) -> None:
        """Clear what was recorded so far."""
        self.errors.clear()
        self.requests.clear()
        self.blocked.clear()

    def open(self, url: str) -> None:
        self.command("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        result = self.command("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, f"{expression}: {result['exceptionDetails']}"
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float) -> Any:
        """The value of ``expression`` once it is truthy, evaluated until ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while not (value := self.evaluate(expression)):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"still falsy after {timeout} s: {expression}\n{self.errors}"
            while self._receive(min(remaining, 0.2)) is not None:
                pass  # record what arrived while waiting
        return value

    def settle(self, quiet_seconds: float) -> None:
        """Record events until none arrives for ``quiet_seconds``."""
        while self._receive(quiet_seconds) is not None:
            pass


@contextmanager
def headless_chromium(executable: str) -> Iterator[Page]:
    """A fresh Chromium profile with one blank tab, events enabled; stopped on exit."""
    # A renderer that outlives the browser by a moment may still write in the profile.
    with (
        tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as scratch,
        (Path(scratch) / "chromium.log").open("w+") as log,
    ):
        profile = Path(scratch) / "profile"
        browser = subprocess.Popen(
            [
                executable,
                "--headless",
                "--no-sandbox",  # tests run as root, where Chromium's sandbox refuses to start
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                f"--proxy-server={REFUSING_PROXY}",
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the renderers stop with it
        )
        try:
            with connect(_devtools_url(browser, profile, log), max_size=None) as connection:
                try:
                    yield _attached_page(connection)
                finally:
                    # Closed the way a user closes it: every tab and helper process exits.
                    connection.send(json.dumps({"id": 0, "method": "Browser.close"}))
                    browser.wait(timeout=10)
        finally:
            if browser.poll() is None:
                os.killpg(browser.pid, signal.SIGKILL)
                browser.wait()


def _devtools_url(browser: subprocess.Popen[bytes], profile: Path, log: IO[str]) -> str:
    """The browser's DevTools WebSocket URL, from the port file Chromium writes at start."""
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + START_TIMEOUT
    while not port_file.exists() or len(port_file.read_text().splitlines()) < 2:
        assert browser.poll() is None, f"chromium exited: {log.seek(0) and log.read()}"
        assert time.monotonic() < deadline, "chromium did not open its DevTools port"
        time.sleep(0.1)
    port, path = port_file.read_text().splitlines()[:2]
    return f"ws://127.0.0.1:{port}{path}"


def _attached_page(connection: ClientConnection) -> Page:
    def browser_command(command_id: int, method: str, **params: Any) -> dict[str, Any]:
        connection.send(json.dumps({"id": command_id, "method": method, "params": params}))
        while (message := json.loads(connection.recv(timeout=10))).get("id") != command_id:
            pass
        return message["result"]

    target = browser_command(1, "Target.createTarget", url="about:blank")
    attached = browser_command(
        2, "Target.attachToTarget", targetId=target["targetId"], flatten=True
    )
    page = Page(connection, attached["sessionId"])
    for domain in ("Page", "Runtime", "Log", "Network"):
        page.command(f"{domain}.enable")
    return page
