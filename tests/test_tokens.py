from __future__ import annotations

import pytest

from newswatch.alerts.tokens import SECRET_ENV, load_secret, make_token, verify_token
from newswatch.storage import open_database


def test_token_round_trip_and_forgery() -> None:
    secret = b"s" * 32
    token = make_token("Lezer@Example.org", secret)
    assert verify_token(token, secret) == "lezer@example.org"
    other = make_token("ander@example.org", secret)
    forged = token.split(".")[0] + "." + other.split(".")[1]
    assert verify_token(forged, secret) is None
    assert verify_token(token, b"t" * 32) is None


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "!!!.???", "x" * 500])
def test_garbled_tokens_are_refused(garbage: str) -> None:
    assert verify_token(garbage, b"s" * 32) is None


def test_secret_is_generated_once_and_kept(db_url: str) -> None:
    db = open_database(db_url)
    first = load_secret(db, env={})
    assert len(first) >= 32
    assert load_secret(db, env={}) == first
    assert load_secret(db, env={SECRET_ENV: "from-env"}) == b"from-env"
    db.dispose()
