"""Kafka users and their ACLs: subscribers and the broker's own services.

With ``FAUCON_KAFKA__SECURITY_PROTOCOL=SASL_PLAINTEXT`` the broker refuses
anonymous clients and allows nothing without an ACL.  Two kinds of users:

* **subscribers** (``faucon users add NAME --read PATTERN``): read the topics
  they are granted, and only those: ``<prefix>.enriched``,
  ``<prefix>.followup`` and ``<prefix>.filter.*`` topics can be granted; raw
  input, the dead-letter topic, the filter registry and Kafka's internal
  topics never can.  They write nowhere and use consumer groups named
  ``NAME.*``.
* **services** (``--service stream|airflow|replay``): the stream and
  Airflow's DAGs read ``raw.*`` and own ``<prefix>.*``; a replay (survey
  feed) writes ``raw.*``.

Examples
--------
>>> from broker.core.config import load_settings
>>> s = load_settings(kafka={"topic_prefix": "faucon"})
>>> [str(g) for g in topic_grants(s, "faucon.filter.*")]
['PREFIXED faucon.filter.']
>>> topic_grants(s, "faucon.deadletter")
Traceback (most recent call last):
...
broker.core.errors.ConfigError: --read 'faucon.deadletter' would grant topics subscribers may not \
read; grantable: faucon.enriched, faucon.followup, faucon.filter.NAME or faucon.filter.*
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from broker.core.config import Settings
from broker.core.errors import ConfigError, InfrastructureError
from broker.kafka.credentials import Credentials

SERVICES = ("stream", "replay", "airflow")
RAW_PREFIX = "raw."
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Grant:
    """One ACL: operation on a topic or group, by literal name or prefix."""

    resource: str  # "topic" | "group"
    pattern: str  # "LITERAL" | "PREFIXED"
    name: str
    operation: str  # "READ" | "WRITE" | "CREATE" | "DESCRIBE" | ...

    def __str__(self) -> str:
        return f"{self.pattern} {self.name}"


def topic_grants(settings: Settings, pattern: str) -> list[Grant]:
    """The READ grant for one ``--read`` pattern, refused if it reaches a private topic.

    Raises
    ------
    ConfigError
        When the pattern could match a topic other than the enriched, follow-up
        or filter topics.
    """
    p = settings.kafka.topic_prefix
    grantable = (f"{p}.enriched", f"{p}.followup")
    filters = f"{p}.filter."
    if pattern.endswith("*"):
        grant = Grant("topic", "PREFIXED", pattern[:-1], "READ")
        ok = grant.name.startswith(filters) and "*" not in grant.name
    else:
        grant = Grant("topic", "LITERAL", pattern, "READ")
        ok = pattern in grantable or (pattern.startswith(filters) and len(pattern) > len(filters))
    if not ok:
        raise ConfigError(
            f"--read {pattern!r} would grant topics subscribers may not read; grantable: "
            f"{p}.enriched, {p}.followup, {p}.filter.NAME or {p}.filter.*"
        )
    return [grant]


def service_grants(settings: Settings, service: str) -> list[Grant]:
    """ACLs of one of the broker's own services."""
    p = f"{settings.kafka.topic_prefix}."
    if service == "replay":
        return [Grant("topic", "PREFIXED", RAW_PREFIX, op) for op in ("WRITE", "CREATE")]
    if service in ("stream", "airflow"):  # Airflow's DAGs archive, retrain and replay
        own = ("READ", "WRITE", "CREATE", "DESCRIBE_CONFIGS")
        return [
            Grant("topic", "PREFIXED", RAW_PREFIX, "READ"),
            *[Grant("topic", "PREFIXED", p, op) for op in own],
            Grant("group", "LITERAL", "*", "READ"),  # Spark names its own groups
        ]
    raise ConfigError(f"--service {service!r}: choose one of {', '.join(SERVICES)}")


def subscriber_grants(settings: Settings, name: str, patterns: list[str]) -> list[Grant]:
    """READ on each granted topic pattern and on the user's own consumer groups."""
    grants = [g for pattern in patterns for g in topic_grants(settings, pattern)]
    return [*grants, Grant("group", "PREFIXED", f"{name}.", "READ")]


def add_user(admin: Settings, name: str, grants: list[Grant]) -> Credentials:
    """Create (or re-key) a SCRAM-SHA-512 user and add its ACLs.

    Parameters
    ----------
    admin
        Settings authenticating as a super user (``LocalKafka.admin_settings()``).
    name
        User name.
    grants
        The ACLs to add.

    Returns
    -------
    Credentials
        The user and a new random password (rotated if the user existed).
    """
    from confluent_kafka.admin import (
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    if not _NAME.match(name) or name == "faucon-admin":
        raise ConfigError(
            f"user name {name!r}: use 1-64 letters, digits, '.', '_' or '-' "
            "(not the super user faucon-admin)"
        )
    password = secrets.token_urlsafe(24)
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192)
    client = _admin(admin)
    upsert = UserScramCredentialUpsertion(name, info, password.encode())
    _wait(client.alter_user_scram_credentials([upsert]), f"creating user {name}")
    _wait(client.create_acls([_binding(name, g) for g in grants]), f"granting ACLs to {name}")
    return Credentials(name, password)


def remove_user(admin: Settings, name: str) -> int:
    """Delete a user's credentials and every ACL naming it; return the ACLs removed."""
    from confluent_kafka.admin import (
        ScramMechanism,
        UserScramCredentialDeletion,
    )

    client = _admin(admin)
    deleted = _wait(client.delete_acls([_acl_filter(f"User:{name}")]), f"removing ACLs of {name}")
    delete = UserScramCredentialDeletion(name, ScramMechanism.SCRAM_SHA_512)
    _wait(client.alter_user_scram_credentials([delete]), f"removing user {name}")
    return sum(len(v) for v in deleted.values()) if isinstance(deleted, dict) else 0


def list_users(admin: Settings) -> dict[str, list[str]]:
    """Every SCRAM user with its ACLs as ``"OPERATION resource PATTERN name"`` strings."""

    client = _admin(admin)
    described = _wait(client.describe_user_scram_credentials(), "listing users")
    users: dict[str, list[str]] = {str(u): [] for u in described}
    for acl in _wait(client.describe_acls(_acl_filter(None)), "listing ACLs"):
        user = acl.principal.removeprefix("User:")
        users.setdefault(user, []).append(
            f"{acl.operation.name} {acl.restype.name.lower()} "
            f"{acl.resource_pattern_type.name} {acl.name}"
        )
    return {u: sorted(v) for u, v in sorted(users.items())}


def _acl_filter(principal: str | None) -> Any:
    """Every ACL (of ``principal`` when given)."""
    from confluent_kafka.admin import (
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    return AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, principal,  # type: ignore[arg-type]
        None, AclOperation.ANY, AclPermissionType.ANY,  # type: ignore[arg-type]
    )  # fmt: skip


def _admin(settings: Settings) -> Any:
    from broker.kafka.topics import admin_client

    return admin_client(settings)


def _binding(user: str, grant: Grant) -> Any:
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    return AclBinding(
        ResourceType[grant.resource.upper()], grant.name, ResourcePatternType[grant.pattern],
        f"User:{user}", "*", AclOperation[grant.operation], AclPermissionType.ALLOW,
    )  # fmt: skip


def _wait(futures: Any, what: str) -> Any:
    """Resolve a future or a dict/list of futures; raise InfrastructureError on failure."""
    try:
        if isinstance(futures, dict):
            return {k: f.result(timeout=_TIMEOUT_S) for k, f in futures.items()}
        if isinstance(futures, list):
            return [f.result(timeout=_TIMEOUT_S) for f in futures]
        return futures.result(timeout=_TIMEOUT_S)
    except Exception as exc:
        raise InfrastructureError(
            f"{what} failed: {exc}; check that Kafka runs with SASL and that the admin "
            "credentials belong to a super user"
        ) from exc
