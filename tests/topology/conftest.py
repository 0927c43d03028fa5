"""The topology tests measure how long each fault takes to recover from; the run's summary
lists every measurement, pass or fail, so a run's output is the record."""

from collections.abc import Callable
from dataclasses import dataclass

import pytest

RECOVERIES = pytest.StashKey[list["Recovery"]]()


@dataclass(frozen=True)
class Recovery:
    fault: str
    outcome: str
    seconds: float


@pytest.fixture
def recovered(request: pytest.FixtureRequest) -> Callable[[str, str, float], None]:
    """``recovered(fault, outcome, seconds)`` records a measured recovery for the summary."""

    def record(fault: str, outcome: str, seconds: float) -> None:
        request.config.stash.setdefault(RECOVERIES, []).append(Recovery(fault, outcome, seconds))

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    recoveries = terminalreporter.config.stash.get(RECOVERIES, [])
    if not recoveries:
        return
    terminalreporter.section("topology: faults and their recovery times")
    for recovery in recoveries:
        terminalreporter.line(f"{recovery.seconds:7.2f} s  {recovery.fault}: {recovery.outcome}")
