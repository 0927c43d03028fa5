"""The repository's root, for tests that read checked-in files wherever the test module lives."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
