"""SASL/SCRAM credentials: where a process finds its Kafka user and password.

A password never travels on a command line or into a log.  It comes, first
match wins, from ``FAUCON_KAFKA__SASL_PASSWORD`` (environment), the file
named by ``FAUCON_KAFKA__SASL_PASSWORD_FILE`` (the password on one line), or
the Kafka client properties file named by ``FAUCON_KAFKA__CREDENTIALS_FILE``
(``sasl.username=`` and ``sasl.password=`` lines, the format `faucon users
add` writes and Kafka's own tools read with ``--consumer.config``).

Examples
--------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "alice.properties"
>>> write_credentials(path, "alice", "s3cret", "127.0.0.1:9092")
>>> read_properties(path)["sasl.username"]
'alice'
>>> oct(path.stat().st_mode & 0o777)
'0o600'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from broker.core.config import Settings
from broker.core.errors import ConfigError

SASL_MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class Credentials:
    """A SASL user and password; the password is kept out of ``repr``."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=***)"


def read_properties(path: Path) -> dict[str, str]:
    """Read a Java-style ``key=value`` properties file (``#`` comments).

    Raises
    ------
    ConfigError
        When the file cannot be read.
    """
    try:
        text = path.expanduser().read_text()
    except OSError as exc:
        raise ConfigError(
            f"cannot read credentials file {path}: {exc.strerror}; "
            "`faucon users add NAME` writes one"
        ) from None
    props = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, _, value = line.partition("=")
            props[key.strip()] = value.strip()
    return props


def properties_text(
    username: str, password: str, bootstrap: str, by: str = "`faucon users add`"
) -> str:
    """Kafka client properties of a SCRAM user (what :func:`write_credentials` writes)."""
    return (
        f"# Kafka client credentials written by {by}; keep this file private.\n"
        f"bootstrap.servers={bootstrap}\nsecurity.protocol=SASL_PLAINTEXT\n"
        f"sasl.mechanism={SASL_MECHANISM}\nsasl.username={username}\nsasl.password={password}\n"
        "# the same user for Kafka's own tools (--command-config, --consumer.config)\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{username}" password="{password}";\n'
    )


def write_credentials(path: Path, username: str, password: str, bootstrap: str) -> None:
    """Write a Kafka client properties file readable by its owner only (mode 600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = properties_text(username, password, bootstrap)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    path.chmod(0o600)


def write_secret(path: Path, secret: str) -> None:
    """Write one secret on one line to a file readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    path.chmod(0o600)


def read_secret(value: SecretStr, file: str, setting: str, what: str) -> str:
    """A password set directly, else the one line of its file ("" when neither is set).

    Raises
    ------
    ConfigError
        When the file (the setting named ``setting``) cannot be read; ``what``
        names the password in the message (``SASL``, ``PostgreSQL``).
    """
    password = value.get_secret_value()
    if not password and file:
        path = Path(file).expanduser()
        try:
            password = path.read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read {setting} {path}: {exc.strerror}; "
                f"create it (mode 600) with the {what} password on one line"
            ) from None
    return password


def sasl_credentials(settings: Settings) -> Credentials:
    """Return this process's SASL user and password.

    Raises
    ------
    ConfigError
        When no user or no password is configured, naming the settings to set.
    """
    k = settings.kafka
    props = read_properties(Path(k.credentials_file)) if k.credentials_file else {}
    username = k.sasl_username or props.get("sasl.username", "")
    password = read_secret(
        k.sasl_password, k.sasl_password_file, "kafka.sasl_password_file", "SASL"
    ) or props.get("sasl.password", "")
    if not username or not password:
        raise ConfigError(
            "kafka.security_protocol is SASL_PLAINTEXT but no "
            + ("user" if not username else "password")
            + " is configured; set FAUCON_KAFKA__CREDENTIALS_FILE (from `faucon users add`), "
            "or FAUCON_KAFKA__SASL_USERNAME with FAUCON_KAFKA__SASL_PASSWORD_FILE"
        )
    return Credentials(username, password)


def settings_with_credentials(settings: Settings, path: Path | None) -> Settings:
    """``settings`` using the SASL user of a client properties file (no-op if None).

    The file's ``bootstrap.servers`` and ``security.protocol`` apply too, so one
    file from `faucon users add` is all a subscriber needs.
    """
    if path is None:
        return settings
    props = read_properties(path)
    update = {"credentials_file": str(path), "sasl_username": "", "sasl_password_file": ""}
    update["security_protocol"] = props.get("security.protocol", "SASL_PLAINTEXT")
    if "bootstrap.servers" in props:
        update["bootstrap"] = props["bootstrap.servers"]
    kafka = settings.kafka.model_copy(update=update | {"sasl_password": SecretStr("")})
    return settings.model_copy(update={"kafka": kafka})
