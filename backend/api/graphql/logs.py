"""What the GraphQL API logs: the operation's name on every record, and its errors by policy.

An error written for the client (``client_error_code`` finds its code: invalid input, a
refused document, a limit, a missing permission) is the client's business: one INFO record,
no traceback. Anything else is a server fault: one ERROR record with its traceback, logged
before the error policy masks it (``NexusSchema.process_errors``). A database that cannot be
reached is neither: ``backend.core.databases`` logs it once, as a warning, and the request
answers 503. docs/operating/logs.md.
"""

import logging
from collections.abc import Iterable, Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from backend.api.graphql.limits import client_error_code
from backend.core.databases import SERVICE_UNAVAILABLE
from backend.core.log_context import operation_name_set, operation_named

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


class OperationLogContext(SchemaExtension):
    """Records logged while an operation runs name it (``operation_name``): the name the
    client sent, else, once the document is parsed, that of its operation."""

    def on_operation(self) -> Iterator[None]:
        with operation_named(self.execution_context.operation_name):
            yield

    def on_validate(self) -> Iterator[None]:
        operation_name_set(self.execution_context.operation_name)
        yield
