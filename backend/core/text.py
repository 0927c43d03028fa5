"""Text a client sends, checked against the column that stores it, by every write service.

PostgreSQL refuses a NUL character anywhere in text (the statement fails: a 500 for the
client) and a value longer than a ``varchar`` column. Services check both before any statement,
so GraphQL, REST and the admin all get the same field error and the database is left as it was.
"""

from django.core.exceptions import ValidationError
from django.db.models import CharField, Field, Model, TextField

NUL = "\x00"
NUL_MESSAGE = "Must not contain NUL (U+0000) characters."


def text_problem(field: "Field[object, object]", value: str) -> str | None:
    """Why ``value`` cannot be stored in ``field``'s column, or None if it can."""
    if NUL in value:
        return NUL_MESSAGE
    if field.max_length is not None and len(value) > field.max_length:
        return f"Ensure this value has at most {field.max_length} characters (it has {len(value)})."
    return None


def text_fields_validate(instance: Model) -> None:
    """Raise ``ValidationError`` (one message per field) for every text field of ``instance``
    whose value cannot be stored; run before any statement that carries the values."""
    errors = {
        field.name: problem
        for field in instance._meta.concrete_fields
        if isinstance(field, CharField | TextField)
        and isinstance(value := getattr(instance, field.attname), str)
        and (problem := text_problem(field, value)) is not None
    }
    if errors:
        raise ValidationError(
            {name: [ValidationError(message, code="invalid")] for name, message in errors.items()}
        )
