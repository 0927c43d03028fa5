"""What a test of a periodic task checks about its place on the beat schedule."""

from django.conf import settings

from backend.celery import app


def assert_beat_runs(task_name: str) -> None:
    """The beat schedule names ``task_name``, and a worker's autodiscovery registers it."""
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert task_name in scheduled
    app.loader.import_default_modules()
    assert task_name in app.tasks
