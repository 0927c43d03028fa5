"""Access tokens are refused unless every RFC 8725 rule holds (each refusal is its own test)."""

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from pytest_django.fixtures import Settings
from strawberry.relay import to_base64

from backend.accounts.checks import jwt_configuration_check
from backend.accounts.models import User
from backend.accounts.tokens import (
    AccessTokenError,
    access_token_create,
    signing_key,
    user_from_access_token,
)
from tests.factories import user_create

pytestmark = pytest.mark.django_db


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(user: User, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "nexus",
        "aud": "nexus-api",
        "sub": to_base64("User", user.pk),
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": "test-jti",
        "ver": user.token_version,
    }
    claims.update(overrides)
    return claims


def _sign(claims: dict[str, Any], key: Ed25519PrivateKey, **headers: Any) -> str:
    return jwt.encode(
        claims,
        key,
        algorithm="EdDSA",
        headers={"typ": "at+jwt", "kid": signing_key().kid, **headers},
    )


def _refused_code(token: str) -> str:
    with pytest.raises(AccessTokenError) as refusal:
        user_from_access_token(token)
    return refusal.value.code


def test_access_token_carries_standard_claims_and_explicit_type() -> None:
    user = user_create()
    token = access_token_create(user)

    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header == {"alg": "EdDSA", "typ": "at+jwt", "kid": signing_key().kid}
    assert set(claims) == {"iss", "aud", "sub", "exp", "iat", "nbf", "jti", "ver"}
    assert claims["sub"] == to_base64("User", user.pk)
    assert claims["exp"] - claims["iat"] == 300
    assert claims["ver"] == 0
    assert user_from_access_token(token) == user


def test_every_token_gets_its_own_jti() -> None:
    user = user_create()
    first, second = access_token_create(user), access_token_create(user)
    assert (
        jwt.decode(first, options={"verify_signature": False})["jti"]
        != jwt.decode(second, options={"verify_signature": False})["jti"]
    )


def test_expired_token_is_refused() -> None:
    user = user_create()
    token = access_token_create(user, now=time.time() - 300 - 61)
    assert _refused_code(token) == "TOKEN_EXPIRED"


def test_token_expired_within_the_60_second_skew_is_still_accepted() -> None:
    user = user_create()
    token = access_token_create(user, now=time.time() - 300 - 30)
    assert user_from_access_token(token) == user


def test_not_yet_valid_token_is_refused(test_signing_key: Ed25519PrivateKey) -> None:
    user = user_create()
    later = int(time.time()) + 120
    token = _sign(_claims(user, nbf=later, iat=later, exp=later + 300), test_signing_key)
    assert _refused_code(token) == "TOKEN_INVALID"


def test_wrong_audience_is_refused(test_signing_key: Ed25519PrivateKey) -> None:
    user = user_create()
    token = _sign(_claims(user, aud="another-service"), test_signing_key)
    assert _refused_code(token) == "TOKEN_INVALID"


def test_wrong_issuer_is_refused(test_signing_key: Ed25519PrivateKey) -> None:
    user = user_create()
    token = _sign(_claims(user, iss="https://evil.example"), test_signing_key)
    assert _refused_code(token) == "TOKEN_INVALID"


def test_wrong_type_is_refused(test_signing_key: Ed25519PrivateKey) -> None:
    user = user_create()
    token = _sign(_claims(user), test_signing_key, typ="JWT")
    assert _refused_code(token) == "TOKEN_INVALID"


def test_token_missing_a_required_claim_is_refused(test_signing_key: Ed25519PrivateKey) -> None:
    user = user_create()
    claims = _claims(user)
    del claims["jti"]
    assert _refused_code(_sign(claims, test_signing_key)) == "TOKEN_INVALID"


def test_tampered_token_is_refused() -> None:
    user = user_create()
    other = user_create()
    header, _, signature = access_token_create(user).split(".")
    forged_claims = _claims(other)
    forged = f"{header}.{_b64(json.dumps(forged_claims).encode())}.{signature}"
    assert _refused_code(forged) == "TOKEN_INVALID"


def test_token_signed_by_another_key_is_refused() -> None:
    user = user_create()
    token = _sign(_claims(user), Ed25519PrivateKey.generate())
    assert _refused_code(token) == "TOKEN_INVALID"


def test_alg_none_token_is_refused() -> None:
    user = user_create()
    header = _b64(json.dumps({"alg": "none", "typ": "at+jwt", "kid": signing_key().kid}).encode())
    payload = _b64(json.dumps(_claims(user)).encode())
    assert _refused_code(f"{header}.{payload}.") == "TOKEN_INVALID"


def test_hs256_token_signed_with_the_public_key_is_refused() -> None:
    """The algorithm-confusion attack: the public key (which anyone has) as an HMAC secret."""
    user = user_create()
    public_pem = signing_key().public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": signing_key().kid}).encode())
    payload = _b64(json.dumps(_claims(user)).encode())
    mac = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert _refused_code(f"{header}.{payload}.{_b64(mac)}") == "TOKEN_INVALID"


def test_malformed_token_is_refused() -> None:
    assert _refused_code("not-a-jwt") == "TOKEN_INVALID"


def test_token_of_a_deactivated_user_is_refused() -> None:
    user = user_create()
    token = access_token_create(user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert _refused_code(token) == "TOKEN_REVOKED"


def test_token_issued_before_a_token_version_bump_is_refused() -> None:
    user = user_create()
    token = access_token_create(user)
    User.objects.filter(pk=user.pk).update(token_version=1)
    assert _refused_code(token) == "TOKEN_REVOKED"


def test_token_to_user_costs_exactly_one_query(count_queries: Any) -> None:
    user = user_create()
    token = access_token_create(user)
    with count_queries() as queries:
        assert user_from_access_token(token) == user
    assert queries.count == 1


def test_jwks_document_verifies_an_issued_token() -> None:
    user = user_create()
    token = access_token_create(user)

    response = Client().get("/.well-known/jwks.json")

    assert response.status_code == 200
    key_set = jwt.PyJWKSet.from_dict(response.json())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in key_set.keys if k.key_id == kid)
    claims = jwt.decode(token, key, algorithms=["EdDSA"], audience="nexus-api", issuer="nexus")
    assert claims["sub"] == to_base64("User", user.pk)


def test_production_without_a_key_fails_the_check_and_first_use(settings: Settings) -> None:
    settings.DEBUG = False
    settings.JWT_PRIVATE_KEY = ""
    settings.JWT_PRIVATE_KEY_FILE = ""
    signing_key.cache_clear()

    errors = jwt_configuration_check(None)

    assert [error.id for error in errors] == ["nexus.E010"]
    assert "JWT_PRIVATE_KEY" in errors[0].msg
    with pytest.raises(ImproperlyConfigured, match="JWT_PRIVATE_KEY"):
        signing_key()


def test_a_key_that_is_not_ed25519_fails_the_check(settings: Settings) -> None:
    settings.JWT_PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"
    signing_key.cache_clear()
    assert [error.id for error in jwt_configuration_check(None)] == ["nexus.E011"]


def test_development_key_is_generated_once_and_kept_across_restarts(
    settings: Settings, tmp_path: Any
) -> None:
    settings.DEBUG = True
    settings.JWT_PRIVATE_KEY = ""
    settings.JWT_KEY_DIR = tmp_path
    signing_key.cache_clear()
    first_kid = signing_key().kid

    signing_key.cache_clear()  # a restart

    assert signing_key().kid == first_kid
    assert (tmp_path / "private-key.pem").stat().st_mode & 0o777 == 0o600
