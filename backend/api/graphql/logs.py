"""What the GraphQL API logs: its errors, by policy (the operation's name on every record is
``backend.api.graphql.metrics.OperationSignals``'s).

An error written for the client (``client_error_code`` finds its code: invalid input, a
refused document, a limit, a missing permission) is the client's business: one INFO record,
no traceback. Anything else is a server fault: one ERROR record with its traceback, logged
before the error policy masks it (``NexusSchema.process_errors``). A database that cannot be
reached is neither: ``backend.core.databases`` logs it once, as a warning, and the request
answers 503. docs/operating/logs.md.
"""

import logging
from collections.abc import Iterable

from graphql import GraphQLError

from backend.api.graphql.limits import client_error_code
from backend.core.databases import SERVICE_UNAVAILABLE

logger = logging.getLogger(__name__)


def errors_log(errors: Iterable[GraphQLError]) -> None:
    for error in errors:
        path = ".".join(map(str, error.path)) if error.path else None
        code = client_error_code(error)
        if code == SERVICE_UNAVAILABLE:
            continue  # an outage, not a bug: backend.core.databases logs it once, as a warning
        if code is None:
            logger.error(
                "GraphQL server error%s: %s",
                f" at {path}" if path else "",
                error.message,
                exc_info=error.original_error,
                extra={"graphql_path": path},
            )
        else:
            logger.info(
                "GraphQL client error %s%s: %s",
                code,
                f" at {path}" if path else "",
                error.message,
                extra={"graphql_code": code, "graphql_path": path},
            )
