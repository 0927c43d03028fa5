"""The per-request GraphQL context: the resolved viewer and the request's DataLoaders."""

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from strawberry import Info
from strawberry.dataloader import DataLoader
from strawberry.django.context import StrawberryDjangoContext


@dataclass
class NexusContext(StrawberryDjangoContext):
    """``request.user`` is resolved before execution starts, so resolvers running on the event
    loop can read it without a database query; DataLoaders live exactly one request."""

    loaders: dict[Hashable, DataLoader[Any, Any]] = field(default_factory=dict)
    # Rows batched without an event loop (sync execution), per kind: the same lifetime.
    loaded: dict[Hashable, dict[Any, Any]] = field(default_factory=dict)


def request_loader[LoaderT: DataLoader[Any, Any]](
    info: Info, key: Hashable, factory: Callable[[], LoaderT]
) -> LoaderT:
    """The request's DataLoader for ``key``, created on first use: batching and caching never
    outlive the request, so one viewer's visibility never leaks into another's answers."""
    loaders = info.context.loaders
    if key not in loaders:
        loaders[key] = factory()
    return loaders[key]  # type: ignore[return-value]


def request_rows(info: Info, key: Hashable) -> dict[Any, Any]:
    """The request's rows of kind ``key`` loaded so far, by primary key (see ``loaded``)."""
    return info.context.loaded.setdefault(key, {})
