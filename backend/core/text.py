"""Text a client sends, checked against the column that stores it, by every write service.

PostgreSQL refuses a NUL character anywhere in text, a value longer than a ``varchar`` column
and a null in a ``NOT NULL`` one (the statement fails: a 500 for the client). Services check all
three before any statement, so GraphQL, REST and the admin all get the same field error and the
database is left as it was. Django's ``full_clean`` does not catch the null where the field
may be blank: it skips validating an empty value of a ``blank=True`` field, None included.
"""

from django.core.exceptions import ValidationError
from django.db.models import CharField, Field, Model, TextField

NUL = "\x00"
NUL_MESSAGE = "Must not contain NUL (U+0000) characters."
NULL_MESSAGE = "This field cannot be null."


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
        and (problem := _column_problem(field, getattr(instance, field.attname))) is not None
    }
    if errors:
        raise ValidationError(
            {name: [ValidationError(message, code="invalid")] for name, message in errors.items()}
        )


def _column_problem(field: "Field[object, object]", value: object) -> str | None:
    """Why a text field's ``value`` cannot be stored in its column, or None if it can."""
    if value is None:
        return None if field.null else NULL_MESSAGE
    return text_problem(field, value) if isinstance(value, str) else None
