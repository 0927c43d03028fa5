"""backend.settings with one periodic task sent twice a second: the two-beat tests
(tests/platform/test_beat.py) see within seconds which beat publishes."""

from backend.settings import *  # noqa: F403  (these settings, one entry changed)

# Not a registered task: beat sends it by name, and nothing consumes the test's queue.
CELERY_BEAT_SCHEDULE = {"beat-lease-probe": {"task": "tests.beat_lease_probe", "schedule": 0.5}}
