"""Shared fixtures. Tests run on real PostgreSQL: DATABASE_URL's server, or the embedded one."""

import os

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def service_url(variable: str) -> str:
    """The URL of a real service a test needs. Missing on CI is a failure, never a skip."""
    url = os.environ.get(variable, "")
    if not url:
        message = f"{variable} is not set: this test needs the real service"
        if ON_CI:
            pytest.fail(message + " (CI=true never skips it)")
        pytest.skip(message + " (run .ci/run or set the variable)")
    return url


class QueryCounter(CaptureQueriesContext):
    @property
    def count(self) -> int:
        return len(self.captured_queries)


@pytest.fixture
def count_queries() -> type[QueryCounter]:
    """``with count_queries() as q: ...`` then ``q.count``: SQL statements actually sent."""
    return lambda: QueryCounter(connection)  # type: ignore[return-value]
