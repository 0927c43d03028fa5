"""Schema extension hooks looked up once per extension class, not once per operation.

Strawberry's runner builds four context managers for every operation (operation, parsing,
validation, execution). Each asks every extension, through ``inspect``, which kind of hook it
defines, and wraps the hook in a new ``contextlib.contextmanager`` (a ``functools.wraps`` copy
per call): work that depends only on the extension's class, repeated for every request.
``CachedHooksRunner`` keeps the answer per class and hook. Entering and leaving the hooks stays
Strawberry's own code (one exit stack per stage, the extensions in the same order), so an
exception reaches the hooks as before.

A fast path of decision 0020 (it relies on Strawberry's ``ExtensionContextManagerBase.hooks``
and ``WrappedHook``): with ``NEXUS_FAST_PATHS`` off the schema uses Strawberry's runner.
"""

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from functools import cache, partial
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
    WrappedHook,
)
from strawberry.extensions.runner import SchemaExtensionsRunner

HookFactory = Callable[[SchemaExtension], Any]  # an extension -> its hook's context manager
FoundHook = tuple[HookFactory, bool]  # and whether the hook is async


@cache
def _hook_factory(extension_class: type[SchemaExtension], name: str) -> FoundHook | None:
    """What Strawberry's ``ExtensionContextManagerBase.get_hook`` finds for every instance of
    ``extension_class``: a factory of the hook's context manager and whether it is async;
    None when the class keeps ``SchemaExtension``'s empty hook."""
    hook = getattr(extension_class, name)
    if hook is getattr(SchemaExtension, name):
        return None
    if inspect.isgeneratorfunction(hook):
        return contextlib.contextmanager(hook), False
    if inspect.isasyncgenfunction(hook):
        return contextlib.asynccontextmanager(hook), True
    if not callable(hook):
        raise ValueError(f"Hook {name} on {extension_class} must be callable, received {hook!r}")
    if inspect.iscoroutinefunction(hook):

        @contextlib.asynccontextmanager
        async def awaited(extension: SchemaExtension) -> AsyncIterator[None]:
            await hook(extension)
            yield

        return awaited, True

    @contextlib.contextmanager
    def called(extension: SchemaExtension) -> Iterator[None]:
        hook(extension)
        yield

    return called, False


@cache
def _results_are_async(extension_class: type[SchemaExtension]) -> bool:
    return inspect.iscoroutinefunction(extension_class.get_results)


class _CachedHooks:
    """``ExtensionContextManagerBase.__init__`` from the per-class lookup."""

    __slots__ = ()
    HOOK_NAME: str

    def __init__(self, extensions: list[SchemaExtension]) -> None:
        hooks = []
        for extension in extensions:
            found = _hook_factory(type(extension), self.HOOK_NAME)
            if found is not None:
                factory, is_async = found
                hooks.append(WrappedHook(extension, partial(factory, extension), is_async))
        self.hooks = hooks  # type: ignore[attr-defined]


class _Operation(_CachedHooks, OperationContextManager):
    __slots__ = ()


class _Parsing(_CachedHooks, ParsingContextManager):
    __slots__ = ()


class _Validation(_CachedHooks, ValidationContextManager):
    __slots__ = ()


class _Executing(_CachedHooks, ExecutingContextManager):
    __slots__ = ()


class CachedHooksRunner(SchemaExtensionsRunner):
    """Strawberry's runner over hooks looked up once per extension class."""

    def operation(self) -> OperationContextManager:
        return _Operation(self.extensions)

    def parsing(self) -> ParsingContextManager:
        return _Parsing(self.extensions)

    def validation(self) -> ValidationContextManager:
        return _Validation(self.extensions)

    def executing(self) -> ExecutingContextManager:
        return _Executing(self.extensions)

    def get_extensions_results_sync(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for extension in self.extensions:
            if _results_are_async(type(extension)):
                raise RuntimeError("Cannot use async extension hook during sync execution")
            data.update(extension.get_results())  # type: ignore[arg-type]
        return data
