"""Numbers a client sends as text, read by one set of rules on every transport.

Python reads more than a client should send: ``int()`` and ``Decimal()`` take digits of other
scripts ("١٢"), ``str.isdigit`` passes superscripts ("²") that ``int()`` then refuses, an
exponent can ask for a number PostgreSQL's ``numeric`` cannot hold ("1e-999999"), and ``int()``
refuses (with ValueError) digit strings over 4,300 long. These helpers accept ASCII numerals
only, check the length before converting, and raise ``ValueError`` with a message a client can
read; each transport turns it into its own 400.
"""

import re
from decimal import Decimal, InvalidOperation

# Longest accepted text of a number: far beyond any amount, id or count, short enough that the
# conversion costs nothing.
NUMBER_MAX_LENGTH = 64
# A decimal's exponent range: PostgreSQL's numeric takes up to 16,383 decimal places and
# 131,072 integer digits, Python's default context ±999,999; these leave room to spare.
DECIMAL_MIN_EXPONENT = -1000
DECIMAL_MAX_ADJUSTED_EXPONENT = 1000

# The largest primary key: ids are bigint. An id a client sends is read against it on every
# transport (REST's path segments and bodies, GraphQL's global ids).
MAX_ID = 2**63 - 1

_INTEGER = re.compile(r"-?[0-9]+", re.ASCII)
# Anchored, so the OpenAPI document can state it as the pattern of a decimal string.
DECIMAL_PATTERN = re.compile(r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$", re.ASCII)


def integer_parse(text: str, *, minimum: int, maximum: int) -> int:
    """``text`` as an int from ``minimum`` to ``maximum``: ASCII digits, an optional minus."""
    if len(text) > NUMBER_MAX_LENGTH or not _INTEGER.fullmatch(text):
        raise ValueError(f"Must be a whole number from {minimum} to {maximum}.")
    value = int(text)
    if not minimum <= value <= maximum:
        raise ValueError(f"Must be a whole number from {minimum} to {maximum}.")
    return value


def decimal_parse(text: str) -> Decimal:
    """``text`` as a finite Decimal: an ASCII numeral ("12.50", "-3", "1e2") whose exponent
    stays within what PostgreSQL's numeric holds. The caller applies its own range."""
    if len(text) > NUMBER_MAX_LENGTH or not DECIMAL_PATTERN.fullmatch(text):
        raise ValueError('Must be a decimal number written with ASCII digits, e.g. "12.50".')
    try:
        value = Decimal(text)
    except InvalidOperation:  # the pattern admits only what Decimal reads; kept for safety
        raise ValueError("Must be a decimal number.") from None
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite: the pattern admits no NaN or Infinity
    if exponent < DECIMAL_MIN_EXPONENT or value.adjusted() > DECIMAL_MAX_ADJUSTED_EXPONENT:
        raise ValueError("The number is out of range.")
    return value
