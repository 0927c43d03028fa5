"""Access tokens: short-lived JWTs signed with Ed25519 (EdDSA), verified by RFC 8725 rules.

Guarantees:
- ``access_token_create`` signs ``iss``, ``aud``, ``sub`` (the user's Relay global ID), ``exp``,
  ``iat``, ``nbf``, ``jti`` and ``ver`` (the user's token version), header ``typ: at+jwt`` and
  ``kid`` (the RFC 7638 thumbprint of the public key).
- ``access_token_decode`` accepts only ``EdDSA`` with the configured key (so ``none`` and HS/RS
  confusion fail), requires every claim above, checks ``iss``/``aud``/``typ`` and allows 60 s of
  clock skew. Every refusal is an ``AccessTokenError`` with a stable ``code``.
- ``user_from_access_token`` is the one path from a token to a user, shared by HTTP and
  WebSocket: one SQL query, active users only, and the token version must match, so "log out
  everywhere" takes effect at once.

Why Ed25519: small keys and signatures (64 bytes, short headers), fast, deterministic (no nonce
or padding choices to get wrong) and a single fixed algorithm; supported by PyJWT, jose (JS),
Nimbus (Java) and golang-jwt. See docs/decisions/0004-jwt-on-pyjwt.md.
"""

import base64
import hashlib
import json
import logging
import secrets
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from backend.accounts.models import User

logger = logging.getLogger(__name__)

ALGORITHM = "EdDSA"
TOKEN_TYPE = "at+jwt"
LEEWAY_SECONDS = 60
REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "iat", "nbf", "jti", "ver"]
GENERATED_KEY_NAME = "private-key.pem"


class AccessTokenError(Exception):
    """A token that must not authenticate anyone; ``code`` is stable for clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class SigningKey:
    private_key: Ed25519PrivateKey
    public_key: Ed25519PublicKey
    kid: str

    @property
    def public_jwk(self) -> dict[str, str]:
        raw = self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(raw),
            "kid": self.kid,
            "alg": ALGORITHM,
            "use": "sig",
        }


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _thumbprint(public_key: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint: stable for a key, so ``kid`` changes exactly when the key does."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}, separators=(",", ":"), sort_keys=True
    )
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def configured_key_pem() -> bytes | None:
    """The configured private key PEM, or None when neither variable is set."""
    if settings.JWT_PRIVATE_KEY:
        # Environments often flatten newlines; accept the literal "\n" form too.
        return settings.JWT_PRIVATE_KEY.replace("\\n", "\n").encode()
    if settings.JWT_PRIVATE_KEY_FILE:
        try:
            return Path(settings.JWT_PRIVATE_KEY_FILE).read_bytes()
        except OSError as error:
            raise ImproperlyConfigured(
                f"JWT_PRIVATE_KEY_FILE={settings.JWT_PRIVATE_KEY_FILE!r} cannot be read: {error}"
            ) from None
    return None


def _load_private_key(pem: bytes, source: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise ImproperlyConfigured(f"{source} is not a PEM private key: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(
            f"{source} must be an Ed25519 key (openssl genpkey -algorithm ed25519)."
        )
    return key


def _development_key() -> Ed25519PrivateKey:
    """Generate once and persist, so restarting the dev server keeps issued tokens valid."""
    path = Path(settings.JWT_KEY_DIR) / GENERATED_KEY_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # O_EXCL: two workers starting together keep whichever key was written first.
        try:
            with path.open("xb") as handle:
                handle.write(pem)
            path.chmod(0o600)
            logger.warning("Generated a development JWT signing key at %s (DEBUG only).", path)
        except FileExistsError:
            pass
    return _load_private_key(path.read_bytes(), str(path))


@cache
def signing_key() -> SigningKey:
    """The process's signing key, loaded once. Raises ImproperlyConfigured when none is usable."""
    pem = configured_key_pem()
    if pem is not None:
        source = "JWT_PRIVATE_KEY" if settings.JWT_PRIVATE_KEY else "JWT_PRIVATE_KEY_FILE"
        private_key = _load_private_key(pem, source)
    elif settings.DEBUG:
        private_key = _development_key()
    else:
        raise ImproperlyConfigured(
            "JWT_PRIVATE_KEY (or JWT_PRIVATE_KEY_FILE) is required when DEBUG is off: "
            "an Ed25519 private key in PEM (openssl genpkey -algorithm ed25519)."
        )
    public_key = private_key.public_key()
    return SigningKey(private_key, public_key, _thumbprint(public_key))


def jwks() -> dict[str, list[dict[str, str]]]:
    """The JSON Web Key Set other services use to verify Nexus access tokens."""
    return {"keys": [signing_key().public_jwk]}


def user_global_id(pk: int) -> str:
    """The user's Relay global ID (base64 of ``User:<pk>``), which access tokens carry as ``sub``.

    The GraphQL API's ``User.id`` encodes the same way, so a client can compare the two.
    """
    return base64.b64encode(f"User:{pk}".encode()).decode("ascii")


def access_token_create(user: User, *, now: float | None = None) -> str:
    """Sign an access token for ``user``, valid for JWT_ACCESS_TTL_SECONDS from ``now``."""
    issued_at = int(time.time() if now is None else now)
    key = signing_key()
    claims: dict[str, Any] = {
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "sub": user_global_id(user.pk),
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + settings.JWT_ACCESS_TTL_SECONDS,
        "jti": secrets.token_urlsafe(16),
        "ver": user.token_version,
    }
    return jwt.encode(
        claims,
        key.private_key,
        algorithm=ALGORITHM,
        headers={"typ": TOKEN_TYPE, "kid": key.kid},
    )


def access_token_decode(token: str) -> dict[str, Any]:
    """Verify ``token`` and return its claims, or raise AccessTokenError with a stable code."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise AccessTokenError("TOKEN_INVALID", "The access token is malformed.") from None
    # RFC 8725 §3.11: explicit typing keeps other JWTs (ID tokens, ...) from passing as ours.
    if header.get("typ") != TOKEN_TYPE:
        raise AccessTokenError("TOKEN_INVALID", "The token is not an access token.")
    key = signing_key()
    try:
        return jwt.decode(
            token,
            key.public_key,
            algorithms=[ALGORITHM],  # pinned: never read from the token (RFC 8725 §2.1)
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS, "strict_aud": True},
        )
    except jwt.ExpiredSignatureError:
        raise AccessTokenError("TOKEN_EXPIRED", "The access token has expired.") from None
    except jwt.InvalidTokenError as error:
        raise AccessTokenError("TOKEN_INVALID", f"The access token is invalid: {error}") from None


def access_token_user_pk(claims: dict[str, Any]) -> int:
    """The user id in the subject of verified ``claims``; no query. Raises AccessTokenError."""
    try:
        type_name, pk = base64.b64decode(claims["sub"], validate=True).decode().split(":", 1)
    except (ValueError, TypeError):
        raise AccessTokenError("TOKEN_INVALID", "The token subject is malformed.") from None
    if type_name != "User" or not pk.isdigit():
        raise AccessTokenError("TOKEN_INVALID", "The token subject is not a user.")
    return int(pk)


def user_from_access_token(token: str) -> User:
    """The active user ``token`` was issued to; one SQL query. Raises AccessTokenError.

    Shared by the HTTP middleware and the WebSocket ``connection_init`` handler (async callers
    wrap it in ``channels.db.database_sync_to_async``).
    """
    claims = access_token_decode(token)
    user = User.objects.filter(pk=access_token_user_pk(claims), is_active=True).first()
    # Same answer for a deleted, deactivated or logged-out-everywhere user: nothing to probe.
    if user is None or user.token_version != claims["ver"]:
        raise AccessTokenError("TOKEN_REVOKED", "The access token has been revoked.")
    return user
