"""Enums shared by every ordered connection."""

from enum import Enum

import strawberry


@strawberry.enum(description="Direction of an ordering.")
class OrderDirection(Enum):
    ASC = strawberry.enum_value("ASC", description="Smallest (or oldest, or A) first.")
    DESC = strawberry.enum_value("DESC", description="Largest (or newest, or Z) first.")
