"""The benchmark report judges the catalog issue's targets on the median of its rounds.

The harness itself (wrk against a server) is not run here: speed is never asserted in tests.
What is tested is the arithmetic that turns rounds into the verdicts written to
docs/performance.md, so a noisy round can neither pass nor fail a target on its own.
"""

from bench.catalog import Load, target_lines


def load(
    requests_per_second: float,
    *,
    p50: float = 10.0,
    p99: float = 20.0,
    cpu: float = 2.0,
    errors: int = 0,
) -> Load:
    return Load(
        requests_per_second=requests_per_second,
        p50_ms=p50,
        p95_ms=p50,
        p99_ms=p99,
        errors=errors,
        requests=1000,
        cpu_ms=cpu,
    )


FLOOR = load(1600, p50=1.0)


def test_each_target_is_judged_on_the_median_round_with_the_range_beside_it() -> None:
    results = {
        # (a): one slow round (p99 45 ms) does not fail the p99 target; the median is 28 ms.
        "a": [
            (load(700, p99=25.0), FLOOR),
            (load(500, p99=45.0), FLOOR),
            (load(720, p99=28.0), FLOOR),
        ],
        # (c) against (a) in the same round: -5 %, +10 %, -8 % -> median -5 %.
        "c": [(load(665, cpu=2.2), FLOOR), (load(550, cpu=2.1), FLOOR), (load(662.4), FLOOR)],
    }
    single = [(load(300, p50=2.5), FLOOR), (load(250, p50=3.5), FLOOR), (load(310, p50=2.9), FLOOR)]

    assert target_lines(results, single, connections=16) == [
        "- (a) at least 35 % of the floor's requests/s (stretch 50 %): 44% (31% to 45%): **met**",
        "- (a) p99 under 30 ms at 16 connections: 28.0 (25.0 to 45.0) ms: **met**",
        "- (a) single-client p50 under 3 ms: 2.9 (2.5 to 3.5) ms (the floor's: 1.0 (1.0 to 1.0) "
        "ms): **met**",
        "- (c) within 10 % of (a): requests/s -5% (-8% to +10%), server CPU per request +5% "
        "(+0% to +10%): **met**",
        "- zero errors under load: 0 over all runs: **met**",
    ]


def test_a_target_missed_in_the_median_round_is_reported_as_not_met() -> None:
    results = {
        "a": [
            (load(400, p99=31.0), FLOOR),
            (load(900, p99=20.0, errors=1), FLOOR),
            (load(480, p99=35.0), FLOOR),
        ],
        "c": [(load(300), FLOOR), (load(800), FLOOR), (load(430), FLOOR)],  # -25 %, -11 %, -10 %
    }
    single = [(load(300, p50=3.1), FLOOR)]

    lines = target_lines(results, single, connections=16)

    assert lines == [
        "- (a) at least 35 % of the floor's requests/s (stretch 50 %): 30% (25% to 56%): "
        "**not met**",
        "- (a) p99 under 30 ms at 16 connections: 31.0 (20.0 to 35.0) ms: **not met**",
        "- (a) single-client p50 under 3 ms: 3.1 ms (the floor's: 1.0 ms): **not met**",
        "- (c) within 10 % of (a): requests/s -11% (-25% to -10%), server CPU per request +0% "
        "(+0% to +0%): **not met**",
        "- zero errors under load: 1 over all runs: **not met**",
    ]


def test_the_stretch_goal_is_named_when_the_median_reaches_it() -> None:
    results = {"a": [(load(800), FLOOR), (load(820), FLOOR), (load(600), FLOOR)]}

    assert target_lines(results, [], connections=16)[0] == (
        "- (a) at least 35 % of the floor's requests/s (stretch 50 %): 50% (38% to 51%): "
        "**met**, stretch reached"
    )
