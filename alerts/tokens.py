"""Signed unsubscribe tokens.

A link in an email must unsubscribe exactly that address, without a login,
and nobody must be able to forge one for another address. The token is the
address plus an HMAC-SHA256 over it with a secret only this installation
knows: `NEWSWATCH_SECRET_KEY` from the environment, or else a random secret
generated on first use and kept in the database's `meta` table (so tokens in
emails already sent stay valid across restarts).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping

from sqlalchemy.exc import IntegrityError

from newswatch.models import Meta
from newswatch.storage import Database

SECRET_ENV = "NEWSWATCH_SECRET_KEY"  # noqa: S105 - the variable name, not a secret
_META_KEY = "unsubscribe_secret"
_PURPOSE = b"newswatch-unsubscribe-v1:"


def load_secret(db: Database, env: Mapping[str, str] | None = None) -> bytes:
    """The signing secret: from the environment, else stored (created once) in the database."""
    env = os.environ if env is None else env
    if env.get(SECRET_ENV):
        return env[SECRET_ENV].encode()
    with db.session() as session:
        row = session.get(Meta, _META_KEY)
        if row is not None:
            return row.value.encode()
    try:
        with db.transaction() as session:
            session.add(Meta(key=_META_KEY, value=secrets.token_urlsafe(32)))
    except IntegrityError:
        pass  # another process created it first; use theirs
    with db.session() as session:
        row = session.get(Meta, _META_KEY)
        assert row is not None
        return row.value.encode()


def make_token(email: str, secret: bytes) -> str:
    """`<base64url(email)>.<base64url(hmac)>`, safe in a URL path or query."""
    address = email.strip().lower().encode()
    mac = hmac.new(secret, _PURPOSE + address, hashlib.sha256).digest()
    return f"{_b64(address)}.{_b64(mac)}"


def verify_token(token: str, secret: bytes) -> str | None:
    """The address a valid token was made for, or None for anything forged or garbled."""
    try:
        encoded_address, encoded_mac = token.split(".", 1)
        address = _unb64(encoded_address)
        mac = _unb64(encoded_mac)
    except (ValueError, TypeError):
        return None
    expected = hmac.new(secret, _PURPOSE + address, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        return address.decode()
    except UnicodeDecodeError:
        return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
