"""A scientist's Kafka access: the topics they may read and their SCRAM credentials.

A portal user may read the topics of the filters they own and the topic
patterns an operator granted them (``faucon portal user grant``, or the
users page).  Generating credentials creates (or re-keys) the Kafka SCRAM
user of the same name with READ on those topics and on consumer groups
``NAME.*`` (:mod:`broker.kafka.users`, the same code as ``faucon users
add``), and returns a ready Kafka client properties file.  The password is
in that one response only: it is stored nowhere, so no page can show it, to
its owner or anyone else; generating again rotates it.

Examples
--------
>>> from broker.core.config import load_settings
>>> from broker.portal.accounts import User
>>> from broker.filters import FilterSpec
>>> vera = User("vera", "scientist", ("faucon.filter.bright_transient",), 0)
>>> specs = [FilterSpec(name="vera_sn", kind="sql", expression="mag < 19", owner="vera")]
>>> readable_topics(load_settings(), vera, specs)
['faucon.filter.bright_transient', 'faucon.filter.vera_sn']
"""

from __future__ import annotations

from pathlib import Path

from broker.core.config import Settings
from broker.core.errors import ConfigError, InfrastructureError
from broker.filters.base import FilterSpec
from broker.kafka.credentials import properties_text
from broker.portal.accounts import User

PLAIN_NOTE = (
    "# This Kafka runs without authentication (PLAINTEXT): no user or password is needed.\n"
)


def readable_topics(settings: Settings, user: User, specs: list[FilterSpec]) -> list[str]:
    """Topic names and ``prefix*`` patterns the user may read, sorted."""
    prefix = settings.kafka.topic_prefix
    own = {s.topic(prefix) for s in specs if s.owner == user.name}
    return sorted(own | set(user.grants))


def check_grant(settings: Settings, pattern: str) -> str:
    """A grantable pattern (the filter, enriched or follow-up topics), else ConfigError."""
    from broker.kafka.users import topic_grants

    topic_grants(settings, pattern)
    return pattern


def _admin_settings(settings: Settings) -> Settings:
    from broker.kafka.local import LocalKafka

    path = settings.portal.admin_credentials_file
    if path:
        kafka = settings.kafka.model_copy(update={"credentials_file": path, "sasl_username": ""})
        return settings.model_copy(update={"kafka": kafka})
    local = LocalKafka(settings)
    if not local.admin_password_file.is_file():
        raise InfrastructureError(
            "the portal cannot create Kafka users: it has no super-user credentials "
            f"({local.admin_password_file} does not exist); the operator sets "
            "FAUCON_PORTAL__ADMIN_CREDENTIALS_FILE"
        )
    return local.admin_settings()


def client_config(settings: Settings, user: User, specs: list[FilterSpec]) -> str:
    """Generate the user's Kafka credentials and return their client properties file.

    Raises
    ------
    ConfigError
        The user may read no topic yet.
    InfrastructureError
        Kafka refused or the portal has no super-user credentials.
    """
    from broker.kafka.users import add_user, subscriber_grants

    topics = readable_topics(settings, user, specs)
    if not topics:
        raise ConfigError(
            f"{user.name} may read no topic yet: register a filter, or ask an operator to "
            "grant you a topic"
        )
    bootstrap = settings.portal.client_bootstrap or settings.kafka.bootstrap
    listing = "".join(f"#   {t}\n" for t in topics)
    header = f"# Faucon topics {user.name} may read ('*' ends a prefix):\n{listing}"
    if settings.kafka.security_protocol == "PLAINTEXT":
        return f"{PLAIN_NOTE}{header}bootstrap.servers={bootstrap}\nsecurity.protocol=PLAINTEXT\n"
    grants = subscriber_grants(settings, user.name, topics)
    creds = add_user(_admin_settings(settings), user.name, grants)
    group = f"# consumer groups must start with '{user.name}.'\n"
    return properties_text(creds.username, creds.password, bootstrap, "the Faucon portal") \
        + header + group  # fmt: skip


def admin_file(settings: Settings) -> Path | None:
    """The super-user credentials file the portal would use (None: the local broker's)."""
    path = settings.portal.admin_credentials_file
    return Path(path) if path else None
