"""Tracing (backend/core/tracing.py): off unless configured, then the SDK from OTEL_*.

Whether a process traces is decided at its start, so each case starts a fresh interpreter
the way the servers start: importing ``backend.wsgi`` (granian), or sending Celery's
``worker_process_init`` (a prefork worker process).
"""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from opentelemetry.sdk.resources import SERVICE_NAME
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from backend.core.tracing import tracer_provider_create

# Prints what the process set up: provider, instrumentation, middleware, schema extensions.
# ``ServerSpanMiddleware`` raises MiddlewareNotUsed when Django loads it in a process that
# does not trace.
PROBE = """
import json, sys
import psycopg

if sys.argv[1] == "wsgi":
    import backend.wsgi
else:
    import django
    from celery.signals import worker_process_init

    django.setup()
    worker_process_init.send(sender=None)

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from opentelemetry import trace
from opentelemetry.instrumentation.celery import CeleryInstrumentor
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

from backend.api.schema import schema
from backend.core.tracing import ServerSpanMiddleware

try:
    ServerSpanMiddleware(lambda request: None)
    server_spans = True
except MiddlewareNotUsed:
    server_spans = False

provider = trace.get_tracer_provider()
print(json.dumps({
    "sdk_imported": "opentelemetry.sdk.trace" in sys.modules,
    "provider": type(provider).__name__,
    "service_name": getattr(provider, "resource", None) and provider.resource.attributes.get(
        "service.name"
    ),
    "sampler": getattr(getattr(provider, "sampler", None), "get_description", lambda: None)(),
    "instrumented": [
        bool(instrumentor.is_instrumented_by_opentelemetry)
        for instrumentor in (PsycopgInstrumentor(), CeleryInstrumentor())
    ],
    "psycopg_connect_wrapped": hasattr(psycopg.Connection.connect, "__wrapped__"),
    "otel_middleware": [m for m in settings.MIDDLEWARE if m.startswith("opentelemetry.")],
    "server_spans": server_spans,
    "extensions": [type(extension).__name__ for extension in schema.get_extensions(sync=True)],
}))
"""


def probe(start: str, **environment: str) -> dict[str, object]:
    """What a fresh process started as ``start`` ("wsgi" or "worker") set up, with the
    tracing variables of this process replaced by ``environment``."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("OTEL_") and name != "TRACING_ENABLED"
    }
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, start],
        cwd=settings.BASE_DIR,
        env={**inherited, "DJANGO_SETTINGS_MODULE": "backend.settings", **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("start", ["wsgi", "worker"])
def test_without_an_endpoint_or_the_setting_nothing_is_traced_or_patched(start: str) -> None:
    process = probe(start)

    assert process["sdk_imported"] is False
    assert process["provider"] == "ProxyTracerProvider"  # the API's no-op
    assert process["instrumented"] == [False, False]
    assert process["psycopg_connect_wrapped"] is False
    assert process["server_spans"] is False  # the middleware leaves the chain
    assert "OperationTracing" not in process["extensions"]


@pytest.mark.parametrize("start", ["wsgi", "worker"])
def test_an_otlp_endpoint_turns_tracing_on_with_the_default_sampler_and_service(
    start: str,
) -> None:
    process = probe(start, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318")

    assert process["provider"] == "TracerProvider"
    assert process["service_name"] == "nexus"
    assert str(process["sampler"]).startswith("ParentBased{root:TraceIdRatioBased{0.1},")
    assert process["instrumented"] == [True, True]
    assert process["psycopg_connect_wrapped"] is True
    # Nexus's own request span, not the Django instrumentation's middleware.
    assert process["server_spans"] is True
    assert process["otel_middleware"] == []
    assert process["extensions"][0] == "OperationTracing"


def test_the_otel_variables_name_the_service_and_the_sampler() -> None:
    process = probe(
        "wsgi",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:4318/v1/traces",
        OTEL_SERVICE_NAME="nexus-web",
        OTEL_TRACES_SAMPLER="traceidratio",
        OTEL_TRACES_SAMPLER_ARG="0.5",
    )

    assert process["service_name"] == "nexus-web"
    assert process["sampler"] == "TraceIdRatioBased{0.5}"


def test_the_setting_turns_tracing_on_without_an_endpoint_and_off_despite_one() -> None:
    assert probe("wsgi", TRACING_ENABLED="true")["provider"] == "TracerProvider"

    off = probe(
        "wsgi", TRACING_ENABLED="false", OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318"
    )
    assert off["provider"] == "ProxyTracerProvider"
    assert off["instrumented"] == [False, False]


def test_the_sdk_switch_turns_tracing_off_despite_an_endpoint() -> None:
    process = probe(
        "wsgi", OTEL_SDK_DISABLED="true", OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318"
    )

    assert process["provider"] == "ProxyTracerProvider"


def test_resource_attributes_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging")

    provider = tracer_provider_create(SimpleSpanProcessor(InMemorySpanExporter()))

    assert provider.resource.attributes["deployment.environment"] == "staging"
    assert provider.resource.attributes[SERVICE_NAME] == "nexus"
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=shop")
    renamed = tracer_provider_create(SimpleSpanProcessor(InMemorySpanExporter()))
    assert renamed.resource.attributes[SERVICE_NAME] == "shop"
