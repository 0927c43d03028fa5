"""Nexus: a GraphQL-first e-commerce backend (the Django project and its domain apps)."""

from backend.celery import app as celery_app

__all__ = ["celery_app"]
