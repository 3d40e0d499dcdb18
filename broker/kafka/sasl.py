"""SASL/SCRAM listeners and ACLs of the local Kafka broker.

Clients authenticate with SCRAM-SHA-512; their credentials live in the
cluster metadata and are managed by ``faucon users``.  The KRaft controller
listener cannot use SCRAM (the controller serves that metadata), so it uses
SASL/PLAIN with the super user only.  Nothing is allowed without an ACL, and
the only super user is the broker's own ``faucon-admin``, whose SCRAM
credential is written into the storage when it is formatted.

Examples
--------
>>> props = sasl_server_properties("pw")
>>> props["super.users"], props["allow.everyone.if.no.acl.found"]
('User:faucon-admin', 'false')
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from broker.core.config import Settings
from broker.kafka.credentials import SASL_MECHANISM

ADMIN_USER = "faucon-admin"
_SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule"
_PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule"


def sasl_server_properties(password: str) -> dict[str, str]:
    """Broker properties for SASL listeners, given the super user's password."""
    return {
        "sasl.enabled.mechanisms": SASL_MECHANISM,
        "sasl.mechanism.inter.broker.protocol": SASL_MECHANISM,
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": f"{_PLAIN} required "
        f'username="{ADMIN_USER}" password="{password}" user_{ADMIN_USER}="{password}";',
        "listener.name.client.scram-sha-512.sasl.jaas.config": f"{_SCRAM} required "
        f'username="{ADMIN_USER}" password="{password}";',
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": f"User:{ADMIN_USER}",
        "allow.everyone.if.no.acl.found": "false",
    }


def format_argfile(args: list[str], password: str) -> str:
    """A java ``@argfile`` running the storage tool with the super user's SCRAM credential.

    The password goes through a file (mode 600, deleted after use), never
    through the command line other users can read in ``/proc``.

    Examples
    --------
    >>> print(format_argfile(["kafka.tools.StorageTool", "format"], "pw"))
    "kafka.tools.StorageTool"
    "format"
    "--add-scram"
    "SCRAM-SHA-512=[name=faucon-admin,password=pw]"
    """
    scram = f"{SASL_MECHANISM}=[name={ADMIN_USER},password={password}]"
    return "\n".join(f'"{a}"' for a in [*args, "--add-scram", scram])


def admin_settings(settings: Settings, password_file: Path) -> Settings:
    """``settings`` authenticating as the super user with the password in ``password_file``."""
    kafka = settings.kafka.model_copy(
        update={
            "sasl_username": ADMIN_USER,
            "sasl_password_file": str(password_file),
            "sasl_password": SecretStr(""),
            "credentials_file": "",
        }
    )
    return settings.model_copy(update={"kafka": kafka})
