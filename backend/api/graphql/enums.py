"""Domain enums exposed as GraphQL enums.

A domain owns an enum's members and values (plain ``enum``, no Strawberry); the API owns its
GraphQL name and the descriptions clients read, here, next to the types that use it.
"""

from collections.abc import Mapping
from enum import Enum

import strawberry


def graphql_enum[E: Enum](
    enum: type[E], *, name: str, description: str, values: Mapping[E, str]
) -> type[E]:
    """Register ``enum`` as the GraphQL enum ``name``, one description per member.

    Every member needs a description and ``values`` may name no other: a member added to the
    domain without one fails at import, not as an undocumented schema value.
    """
    if set(values) != set(enum):
        raise ValueError(
            f"GraphQL enum {name}: describe exactly the members of {enum.__qualname__} "
            f"(missing {sorted(set(enum) - set(values), key=str)}, "
            f"unknown {sorted(set(values) - set(enum), key=str)})"
        )
    strawberry.enum(enum, name=name, description=description)
    for value in enum.__strawberry_definition__.values:  # type: ignore[attr-defined]
        value.description = values[enum(value.value)]
    return enum
