"""Portal accounts: argon2 passwords, tokens and sessions stored as hashes only, expiry, roles."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from broker.portal.accounts import AccountError, Accounts
from broker.portal.db import Database, open_database

PASSWORD = "a passphrase of some length"


@pytest.fixture(params=["duckdb", "postgresql"])
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    """An empty database on each backend."""
    if request.param == "duckdb":
        found = open_database(":memory:")
    else:
        url, password = request.getfixturevalue("postgres")
        found = open_database(f"{url.rsplit('/', 1)[0]}/a{uuid.uuid4().hex[:8]}", password)
    yield found
    found.close()


def test_passwords_are_hashed_and_checked(db: Database) -> None:
    acc = Accounts(db, session_ttl_s=60, token_ttl_days=1)
    user = acc.add_user("vera", PASSWORD, "scientist", ("faucon.filter.bright_transient",))
    assert (user.role, user.is_operator) == ("scientist", False)
    assert user.grants == ("faucon.filter.bright_transient",)
    stored = db.scalar("SELECT password_hash FROM users WHERE name = 'vera'")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert acc.check_password("vera", PASSWORD) == user
    assert acc.check_password("vera", PASSWORD + "x") is None
    assert acc.check_password("nobody", PASSWORD) is None
    for name, password, role, why in [
        ("vera", PASSWORD, "scientist", "already exists"),
        ("Vera!", PASSWORD, "scientist", "name"),
        ("olga", "short", "operator", "at least 10"),
        ("olga", PASSWORD, "admin", "role"),
    ]:
        with pytest.raises(AccountError, match=why):
            acc.add_user(name, password, role)
    acc.set_password("vera", "another long passphrase")
    assert acc.check_password("vera", PASSWORD) is None
    assert acc.check_password("vera", "another long passphrase") is not None


def test_tokens_and_sessions_are_kept_as_hashes_and_expire(db: Database) -> None:
    acc = Accounts(db, session_ttl_s=0.5, token_ttl_days=1)
    acc.add_user("vera", PASSWORD, "scientist")
    token = acc.new_token("vera", "laptop")
    assert token.startswith("fct_") and len(token) > 40
    assert acc.user_for_token(token).name == "vera"  # type: ignore[union-attr]
    assert acc.user_for_token(token + "x") is None
    dump = repr(db.query("SELECT * FROM tokens")) + repr(db.query("SELECT * FROM sessions"))
    assert token not in dump
    (listed,) = acc.tokens("vera")
    assert listed["label"] == "laptop" and listed["last_used_ms"] and "token_hash" not in listed
    assert acc.revoke_token("vera", listed["id"]) and acc.user_for_token(token) is None
    sid, session = acc.new_session("vera")
    assert sid not in repr(db.query("SELECT * FROM sessions"))
    assert acc.session(sid) == session and len(session.csrf) > 30 and session.csrf != sid
    time.sleep(0.6)
    assert acc.session(sid) is None, "sessions expire"
    sid2, _ = acc.new_session("vera")
    acc.end_session(sid2)
    assert acc.session(sid2) is None
    expiring = Accounts(db, session_ttl_s=60, token_ttl_days=1e-8)  # ~1 ms
    old = expiring.new_token("vera", "short-lived")
    time.sleep(0.01)
    assert expiring.user_for_token(old) is None, "tokens expire"
    acc.remove_user("vera")
    assert acc.user("vera") is None and db.scalar("SELECT count(*) FROM tokens") == 0
