"""graphql-core's "Did you mean ...?" hints, kept only where the schema is public anyway.

With introspection off (``GRAPHQL_INTROSPECTION``), a client guessing field, argument, type or
enum names would otherwise read the schema back from the hints, one guess at a time.
graphql-core 3.2 has no switch for them (Strawberry's ``disable_field_suggestions`` covers
only unknown fields, and is fixed when the schema is built), so they are cut from messages.
"""

import re

from django.conf import settings
from graphql import GraphQLError

# graphql-core appends " Did you mean 'a', 'b', or 'c'?" (or "... the enum value 'X'?", "... to
# use an inline fragment on 'X'?") to the message; GraphQL names hold no "?".
_SUGGESTION = re.compile(r" Did you mean [^?]*\?")


def suggestions_hide(error: GraphQLError) -> None:
    """Remove the hints from ``error``'s message unless introspection is on.

    In place and idempotent: validation errors are cached and shared between requests.
    """
    if not settings.GRAPHQL_INTROSPECTION and "Did you mean" in error.message:
        error.message = _SUGGESTION.sub("", error.message)
