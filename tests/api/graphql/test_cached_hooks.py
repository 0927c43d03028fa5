"""Extension hooks looked up once per class (``backend.api.graphql.hooks``): every stage runs
the same hooks, in the same order, with the same exceptions reaching them, as Strawberry's own
runner; the schema uses it only with the fast paths on (decision 0020)."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pytest_django.fixtures import Settings
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner

from backend.api.graphql.hooks import CachedHooksRunner
from backend.api.schema import schema

STAGES = ("operation", "parsing", "validation", "executing")
SYNC_HOOKS = {"Generator", "Plain", "Swallowing", "Silent"}

Calls = list[str]


def extension_classes(calls: Calls) -> list[type[SchemaExtension]]:
    """One extension per kind of hook Strawberry accepts, each recording what it sees."""

    class Generator(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            calls.append("generator operation enter")
            try:
                yield
            except LookupError as error:
                calls.append(f"generator operation saw {error!r}")
                raise
            calls.append("generator operation exit")

        def on_execute(self) -> Iterator[None]:
            calls.append("generator execute enter")
            yield
            calls.append("generator execute exit")

        def get_results(self) -> dict[str, Any]:
            return {"generator": 1}

    class Plain(SchemaExtension):
        def on_operation(self) -> None:  # type: ignore[override]
            calls.append("plain operation")

        def on_validate(self) -> None:  # type: ignore[override]
            calls.append("plain validate")

    class Swallowing(SchemaExtension):
        def on_parse(self) -> Iterator[None]:
            try:
                yield
            except LookupError:
                calls.append("swallowing parse suppressed")

    class AsyncGenerator(SchemaExtension):
        async def on_operation(self) -> AsyncIterator[None]:  # type: ignore[override]
            calls.append("async generator operation enter")
            yield
            calls.append("async generator operation exit")

        async def get_results(self) -> dict[str, Any]:  # type: ignore[override]
            return {}

    class Coroutine(SchemaExtension):
        async def on_execute(self) -> None:  # type: ignore[override]
            calls.append("coroutine execute")

        def get_results(self) -> dict[str, Any]:
            return {"coroutine": 2}

    class Silent(SchemaExtension):
        pass

    return [Generator, Plain, Swallowing, AsyncGenerator, Coroutine, Silent]


def run_stages(runner_class: type[SchemaExtensionsRunner], *, fail: bool) -> Calls:
    """Every stage entered and left by ``runner_class``, synchronously for the sync hooks and
    on a loop for all of them; with ``fail``, a ``LookupError`` raised inside each stage."""
    calls: Calls = []
    classes = extension_classes(calls)

    def runner(*, sync: bool) -> SchemaExtensionsRunner:
        extensions = [cls(execution_context=None) for cls in classes]  # type: ignore[arg-type]
        if sync:  # the stages' sync hooks only
            extensions = [e for e in extensions if type(e).__name__ in SYNC_HOOKS]
        return runner_class(execution_context=None, extensions=extensions)  # type: ignore[arg-type]

    def inside(stage: str) -> None:
        calls.append(f"inside {stage}")
        if fail:
            raise LookupError(stage)

    for stage in STAGES:
        context: Any = getattr(runner(sync=True), stage)()
        try:
            with context:
                inside(stage)
        except LookupError as error:
            calls.append(f"raised {error!r}")

    async def on_loop() -> None:
        for stage in STAGES:
            context: Any = getattr(runner(sync=False), stage)()
            try:
                async with context:
                    inside(stage)
            except LookupError as error:
                calls.append(f"raised {error!r}")

    asyncio.run(on_loop())
    sync_runner = runner(sync=True)
    calls.append(repr(sync_runner.get_extensions_results_sync()))
    with pytest.raises(RuntimeError, match="async extension hook"):
        runner(sync=False).get_extensions_results_sync()  # AsyncGenerator's get_results
    return calls


@pytest.mark.parametrize("fail", [False, True], ids=["completing", "raising"])
def test_every_stage_runs_the_same_hooks_in_the_same_order_as_strawberrys(fail: bool) -> None:
    ours = run_stages(CachedHooksRunner, fail=fail)
    assert ours == run_stages(SchemaExtensionsRunner, fail=fail)
    assert "generator operation enter" in ours
    assert "coroutine execute" in ours
    assert ("swallowing parse suppressed" in ours) is fail


def test_an_async_hook_in_a_sync_stage_is_refused_as_strawberry_refuses_it() -> None:
    calls: Calls = []
    async_generator = extension_classes(calls)[3](execution_context=None)  # type: ignore[arg-type]
    for runner_class in (CachedHooksRunner, SchemaExtensionsRunner):
        runner = runner_class(execution_context=None, extensions=[async_generator])  # type: ignore[arg-type]
        with (
            pytest.raises(RuntimeError, match="failed to complete synchronously"),
            runner.operation(),
        ):
            pass
    assert calls == []


def test_a_hook_that_is_not_callable_is_refused_as_strawberry_refuses_it() -> None:
    class Broken(SchemaExtension):
        on_validate = 42  # type: ignore[assignment]

    for runner_class in (CachedHooksRunner, SchemaExtensionsRunner):
        runner = runner_class(execution_context=None, extensions=[Broken(execution_context=None)])  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="must be callable"):
            runner.validation()


def test_the_schema_uses_the_cached_hooks_only_with_the_fast_paths_on(settings: Settings) -> None:
    settings.NEXUS_FAST_PATHS = True
    assert type(schema.create_extensions_runner(None, [])) is CachedHooksRunner  # type: ignore[arg-type]
    settings.NEXUS_FAST_PATHS = False
    assert type(schema.create_extensions_runner(None, [])) is SchemaExtensionsRunner  # type: ignore[arg-type]
