"""Portal accounts: users with roles, passwords (argon2id), API tokens and login sessions.

* Passwords are hashed with argon2id (``argon2-cffi``) and never stored or
  logged in clear.
* API tokens (``fct_`` + 43 random characters) and session ids are random;
  only their SHA-256 is stored, so a copy of the database opens no account.
  Tokens expire after ``portal.token_ttl_days``, sessions after
  ``portal.session_ttl_s``; each session has its own CSRF token.
* Roles: ``scientist`` (own filters, own credentials) and ``operator`` (all
  filters, users).  ``grants`` are the extra Kafka topic patterns an operator
  gave a scientist (beyond the topics of the filters they own).

Examples
--------
>>> from broker.portal.db import open_database
>>> acc = Accounts(open_database(":memory:"), session_ttl_s=60, token_ttl_days=1)
>>> acc.add_user("vera", "a long passphrase", "scientist").role
'scientist'
>>> acc.check_password("vera", "wrong") is None
True
>>> token = acc.new_token("vera", "laptop")
>>> acc.user_for_token(token).name
'vera'
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from broker.core.errors import ConfigError
from broker.portal.db import Database

ROLES = ("scientist", "operator")
NAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{1,31}$")
MIN_PASSWORD = 10
DDL = (
    """CREATE TABLE IF NOT EXISTS users (
        name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,
        grants TEXT NOT NULL, created_ms BIGINT NOT NULL, kafka_user_ms BIGINT)""",
    """CREATE TABLE IF NOT EXISTS tokens (
        token_hash TEXT PRIMARY KEY, name TEXT NOT NULL, label TEXT NOT NULL,
        created_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL, last_used_ms BIGINT)""",
    """CREATE TABLE IF NOT EXISTS sessions (
        session_hash TEXT PRIMARY KEY, name TEXT NOT NULL, csrf TEXT NOT NULL,
        created_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL)""",
)
_HASHER = PasswordHasher()
# Compared against when the user does not exist, so a login takes as long either way.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")


class AccountError(ConfigError):
    """A user, password, role or token is not acceptable; the message says why."""


@dataclass(frozen=True)
class User:
    """A portal user (no secret in it)."""

    name: str
    role: str
    grants: tuple[str, ...]
    created_ms: int
    kafka_user_ms: int | None = None

    @property
    def is_operator(self) -> bool:
        """Operators manage every filter and the users."""
        return self.role == "operator"


@dataclass(frozen=True)
class Session:
    """A login session: who, its CSRF token, when it ends."""

    user: User
    csrf: str
    expires_ms: int


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _user(row: dict[str, Any]) -> User:
    return User(row["name"], row["role"], tuple(json.loads(row["grants"])), int(row["created_ms"]),
                row["kafka_user_ms"])  # fmt: skip


class Accounts:
    """Users, tokens and sessions in the portal's database."""

    def __init__(self, db: Database, session_ttl_s: float, token_ttl_days: float) -> None:
        self.db = db
        self.session_ttl_ms = int(session_ttl_s * 1000)
        self.token_ttl_ms = int(token_ttl_days * 86_400_000)
        for statement in DDL:
            db.execute(statement)

    # ------------------------------------------------------------------ users
    def add_user(self, name: str, password: str, role: str, grants: tuple[str, ...] = ()) -> User:
        """Create a user; refuse a taken name, a bad role or a short password."""
        if not NAME_RE.match(name):
            raise AccountError(
                f"user name {name!r}: use 2-32 lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter"
            )
        if role not in ROLES:
            raise AccountError(f"role {role!r}: choose one of {', '.join(ROLES)}")
        self._check_password(password)
        if self.user(name) is not None:
            raise AccountError(f"user {name!r} already exists")
        self.db.execute(
            "INSERT INTO users (name, role, password_hash, grants, created_ms) "
            "VALUES (?, ?, ?, ?, ?)",
            [name, role, _HASHER.hash(password), json.dumps(list(grants)), _now_ms()],
        )
        return self.user(name)  # type: ignore[return-value]

    @staticmethod
    def _check_password(password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")

    def ensure_user(self, name: str, password: str, role: str) -> User:
        """Create a user, or give an existing one this password and role (the demo's login)."""
        if self.user(name) is None:
            return self.add_user(name, password, role)
        if role not in ROLES:
            raise AccountError(f"role {role!r}: choose one of {', '.join(ROLES)}")
        self.set_password(name, password)
        self.db.execute("UPDATE users SET role = ? WHERE name = ?", [role, name])
        return self.require(name)

    def set_password(self, name: str, password: str) -> None:
        """Replace a user's password and end their sessions."""
        self._check_password(password)
        self.db.execute("UPDATE users SET password_hash = ? WHERE name = ?",
                        [_HASHER.hash(password), name])  # fmt: skip
        self.db.execute("DELETE FROM sessions WHERE name = ?", [name])

    def set_grants(self, name: str, grants: tuple[str, ...]) -> User:
        """Replace the topic patterns an operator granted a user."""
        self.db.execute("UPDATE users SET grants = ? WHERE name = ?",
                        [json.dumps(sorted(set(grants))), name])  # fmt: skip
        return self.require(name)

    def mark_kafka_user(self, name: str) -> None:
        """Record that the user's Kafka credentials were (re)generated now."""
        self.db.execute("UPDATE users SET kafka_user_ms = ? WHERE name = ?", [_now_ms(), name])

    def user(self, name: str) -> User | None:
        """A user by name, None when there is none."""
        rows = self.db.query("SELECT * FROM users WHERE name = ?", [name])
        return _user(rows[0]) if rows else None

    def require(self, name: str) -> User:
        """A user by name; :class:`AccountError` when there is none."""
        found = self.user(name)
        if found is None:
            raise AccountError(f"no user {name!r}")
        return found

    def users(self) -> list[User]:
        """Every user, by name."""
        return [_user(r) for r in self.db.query("SELECT * FROM users ORDER BY name")]

    def remove_user(self, name: str) -> None:
        """Delete a user with their tokens and sessions."""
        for table in ("tokens", "sessions", "users"):
            self.db.execute(f"DELETE FROM {table} WHERE name = ?", [name])

    def check_password(self, name: str, password: str) -> User | None:
        """The user if the password is theirs, else None (same time either way)."""
        rows = self.db.query("SELECT password_hash FROM users WHERE name = ?", [name])
        stored = rows[0]["password_hash"] if rows else _DUMMY_HASH
        try:
            _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        return self.user(name) if rows else None

    # ----------------------------------------------------------------- tokens
    def new_token(self, name: str, label: str) -> str:
        """A new API token for a user (returned once; only its hash is kept)."""
        self.require(name)
        token = "fct_" + secrets.token_urlsafe(32)
        now = _now_ms()
        self.db.execute(
            "INSERT INTO tokens (token_hash, name, label, created_ms, expires_ms) "
            "VALUES (?, ?, ?, ?, ?)",
            [_digest(token), name, label[:64] or "token", now, now + self.token_ttl_ms],
        )
        return token

    def tokens(self, name: str) -> list[dict[str, Any]]:
        """A user's tokens (label, id = first 12 hex of the hash, dates; never the token)."""
        rows = self.db.query(
            "SELECT token_hash, label, created_ms, expires_ms, last_used_ms FROM tokens "
            "WHERE name = ? ORDER BY created_ms",
            [name],
        )
        return [{"id": r.pop("token_hash")[:12], **r} for r in rows]

    def revoke_token(self, name: str, token_id: str) -> bool:
        """Delete one of a user's tokens by its id; False when there is no such token."""
        rows = self.db.query("SELECT token_hash FROM tokens WHERE name = ?", [name])
        found = [r["token_hash"] for r in rows if r["token_hash"].startswith(token_id)]
        if len(token_id) < 8 or len(found) != 1:
            return False
        self.db.execute("DELETE FROM tokens WHERE token_hash = ?", [found[0]])
        return True

    def user_for_token(self, token: str) -> User | None:
        """The user of a valid, unexpired token."""
        now = _now_ms()
        rows = self.db.query(
            "SELECT name FROM tokens WHERE token_hash = ? AND expires_ms > ?",
            [_digest(token), now],
        )
        if not rows:
            return None
        self.db.execute("UPDATE tokens SET last_used_ms = ? WHERE token_hash = ?",
                        [now, _digest(token)])  # fmt: skip
        return self.user(rows[0]["name"])

    # --------------------------------------------------------------- sessions
    def new_session(self, name: str) -> tuple[str, Session]:
        """Open a session: (cookie value, session)."""
        user = self.require(name)
        sid, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), _now_ms()
        expires = now + self.session_ttl_ms
        self.db.execute("DELETE FROM sessions WHERE expires_ms <= ?", [now])
        self.db.execute(
            "INSERT INTO sessions (session_hash, name, csrf, created_ms, expires_ms) "
            "VALUES (?, ?, ?, ?, ?)",
            [_digest(sid), name, csrf, now, expires],
        )
        return sid, Session(user, csrf, expires)

    def session(self, sid: str) -> Session | None:
        """The unexpired session of a cookie value."""
        rows = self.db.query(
            "SELECT name, csrf, expires_ms FROM sessions WHERE session_hash = ? AND expires_ms > ?",
            [_digest(sid), _now_ms()],
        )
        if not rows:
            return None
        user = self.user(rows[0]["name"])
        return Session(user, rows[0]["csrf"], int(rows[0]["expires_ms"])) if user else None

    def end_session(self, sid: str) -> None:
        """Log out."""
        self.db.execute("DELETE FROM sessions WHERE session_hash = ?", [_digest(sid)])
