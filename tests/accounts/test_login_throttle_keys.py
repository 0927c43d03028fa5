"""Throttle keys: every spelling of an email that signs in to an account (the database matches
case-insensitively with ``UPPER``, so the long s, the dotless i and the Kelvin sign sign in)
counts against that account's bucket, and one client address is one bucket."""

import contextlib

import pytest
from django.contrib.auth import authenticate
from django.db import connection
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from backend.accounts import throttling
from backend.accounts.models import ThrottleBucket, User
from tests.factories import user_create

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
EMAIL = "kristin.sisi@example.com"
ATTACKER = "198.51.100.4"

# Spellings of each letter of EMAIL: its cases, the letters PostgreSQL's UPPER maps to it
# (long s U+017F, dotless i U+0131, Kelvin sign U+212A), dotted capital I (U+0130) and
# full-width forms (NFKC folds them; the database does not match them).
SPELLINGS = {
    "s": ["s", "S", "\u017f", "\uff53"],
    "i": ["i", "I", "\u0131", "\u0130", "\uff49"],
    "k": ["k", "K", "\u212a", "\uff4b"],
    "e": ["e", "E", "\uff45"],
}


def _spellings(text: str) -> st.SearchStrategy[str]:
    letters = [st.sampled_from(SPELLINGS.get(letter, [letter, letter.upper()])) for letter in text]
    return st.tuples(*letters).map("".join)


def test_every_character_the_database_matches_case_insensitively_has_one_canonical_form() -> None:
    """All of Unicode, against this database's own ``UPPER`` (its collation decides)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(chr(code)) FROM generate_series(1, 1114111) AS code "
            "WHERE code NOT BETWEEN 55296 AND 57343 "  # surrogates are not characters
            "GROUP BY upper(chr(code)) HAVING count(*) > 1"
        )
        groups = [characters for (characters,) in cursor.fetchall()]

    assert len(groups) > 1000  # the database folds case beyond ASCII, the case in question
    split = [group for group in groups if len({throttling.email_canonical(c) for c in group}) > 1]
    assert split == []


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(local=_spellings("kristin.sisi"), domain=_spellings("example.com"))
@example(local="\u212aristin.\u017fi\u017fi", domain="example.com")
@example(local="kr\u0131st\u0131n.s\u0131s\u0131", domain="EXAMPLE.COM")
def test_every_spelling_that_signs_in_hits_the_account_bucket(local: str, domain: str) -> None:
    variant = f"{local}@{domain}"
    ThrottleBucket.objects.all().delete()  # each example starts with no attempts counted
    user = User.objects.filter(email=EMAIL).first() or user_create(email=EMAIL, password=PASSWORD)
    with connection.cursor() as cursor:
        cursor.execute("SELECT upper(%s) = upper(%s)", [variant, EMAIL])
        (database_matches,) = cursor.fetchone()
    same_bucket = throttling.email_canonical(variant) == throttling.email_canonical(EMAIL)
    assert same_bucket or not database_matches

    signed_in = authenticate(username=variant, password=PASSWORD, ip="203.0.113.9")
    assert (signed_in == user) == database_matches  # the spelling really signs in, or not

    # Exhaust this account's budget from the attacker's address, then try the variant there:
    # every spelling that signs in (and the full-width ones, which do not) is refused.
    for _ in range(3):
        with contextlib.suppress(throttling.AttemptDelayedError):
            authenticate(username=EMAIL, password="wrong", ip=ATTACKER)
    if same_bucket:
        with pytest.raises(throttling.AttemptDelayedError):
            authenticate(username=variant, password=PASSWORD, ip=ATTACKER)
    else:  # the dotted capital I: neither signs in nor shares the bucket
        assert authenticate(username=variant, password=PASSWORD, ip=ATTACKER) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_the_canonical_form_is_stable(email: str) -> None:
    canonical = throttling.email_canonical(email)
    assert throttling.email_canonical(canonical) == canonical


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff::7"),  # one /64: one host's addresses
        ("::ffff:203.0.113.7", "203.0.113.7"),  # an IPv4 client seen over IPv6
        ("2001:DB8::1", "2001:db8:0::1"),  # spellings of one address
        ("not-an-ip", "also not"),  # never a fresh bucket per made-up value
    ],
)
def test_one_client_is_one_address_bucket(one: str, other: str) -> None:
    assert throttling.address_key(one) == throttling.address_key(other)


def test_different_clients_are_different_address_buckets() -> None:
    keys = {throttling.address_key(ip) for ip in ["203.0.113.7", "203.0.113.8", "2001:db8:1:3::1"]}
    assert len(keys) == 3
