"""``faucon users``: SASL/SCRAM users and their ACLs on a secured Kafka.

Passwords are generated, written to a mode-600 Kafka client properties file
and never printed, logged or taken from the command line.

Examples
--------
Mounted by the main CLI as ``faucon users``::

    $ export FAUCON_KAFKA__SECURITY_PROTOCOL=SASL_PLAINTEXT
    $ faucon kafka start
    $ faucon users add alice --read 'faucon.filter.*'
    $ faucon users add faucon-stream --service stream
    $ faucon users list
    $ faucon users remove alice

>>> from typer.testing import CliRunner
>>> CliRunner().invoke(app, ["--help"]).exit_code
0
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from broker.cli.support import fail_clearly, print_json
from broker.core.config import Settings, load_settings
from broker.core.errors import ConfigError
from broker.kafka.credentials import write_credentials

app = typer.Typer(help="Kafka users (SASL/SCRAM) and their ACLs.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)

AdminFile = Annotated[
    Path | None,
    typer.Option(
        "--admin-credentials",
        help="client properties of a super user (default: the local broker's own)",
    ),
]


def _admin(admin_credentials: Path | None) -> Settings:
    """Settings authenticated as a super user, refusing an unsecured broker."""
    from broker.kafka.local import LocalKafka

    settings = load_settings()
    if settings.kafka.security_protocol != "SASL_PLAINTEXT":
        raise ConfigError(
            "users need a secured broker: set FAUCON_KAFKA__SECURITY_PROTOCOL=SASL_PLAINTEXT "
            "(the local broker then starts with SASL/SCRAM and ACLs)"
        )
    if admin_credentials is not None:
        kafka = settings.kafka.model_copy(
            update={"credentials_file": str(admin_credentials), "sasl_username": ""}
        )
        return settings.model_copy(update={"kafka": kafka})
    local = LocalKafka(settings)
    if not local.admin_password_file.is_file():
        raise ConfigError(
            f"no super user credentials: {local.admin_password_file} does not exist; start "
            "the local broker with `faucon kafka start`, or pass --admin-credentials FILE"
        )
    return local.admin_settings()


@app.command()
@fail_clearly
def add(
    name: Annotated[str, typer.Argument(help="user name")],
    read: Annotated[
        list[str] | None,
        typer.Option(help="topic or prefix* the user may read (repeatable)"),
    ] = None,
    service: Annotated[
        str | None, typer.Option(help="a Faucon service account: stream, airflow or replay")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="credentials file (default <state>/users/NAME.properties)")
    ] = None,
    admin_credentials: AdminFile = None,
) -> None:
    """Create a subscriber (--read) or service user; write its credentials file."""
    from broker.kafka.users import add_user, service_grants, subscriber_grants

    settings = load_settings()
    if bool(read) == bool(service):
        raise ConfigError("give either --read PATTERN (a subscriber) or --service NAME")
    grants = (
        service_grants(settings, service)
        if service
        else subscriber_grants(settings, name, list(read or []))
    )
    creds = add_user(_admin(admin_credentials), name, grants)
    path = out or settings.state_dir / "users" / f"{name}.properties"
    write_credentials(path, creds.username, creds.password, settings.kafka.bootstrap)
    console.print(f"user {name}: {len(grants)} ACLs; credentials (mode 600) in {path}")
    for grant in grants:
        console.print(f"  {grant.operation} {grant.resource} {grant}")


@app.command()
@fail_clearly
def services(
    out_dir: Annotated[Path, typer.Option(help="folder for the credentials files")],
    owner: Annotated[
        list[str] | None,
        typer.Option(help="SERVICE=UID: chown that file (run as root, e.g. airflow=50000)"),
    ] = None,
    admin_credentials: AdminFile = None,
) -> None:
    """Create (or re-key) the service users faucon-stream, -replay, -airflow (compose)."""
    import os

    from broker.kafka.users import SERVICES, add_user, service_grants

    owners = dict(o.split("=", 1) for o in owner or [] if "=" in o)
    if bad := sorted(set(owners) - set(SERVICES)) or [o for o in owner or [] if "=" not in o]:
        raise ConfigError(f"--owner {bad}: use SERVICE=UID with SERVICE in {SERVICES}")
    settings, admin = load_settings(), _admin(admin_credentials)
    for service in SERVICES:
        name = f"faucon-{service}"
        creds = add_user(admin, name, service_grants(settings, service))
        path = out_dir / f"{name}.properties"
        write_credentials(path, creds.username, creds.password, settings.kafka.bootstrap)
        if uid := owners.get(service):
            os.chown(path, int(uid), -1)
        console.print(f"user {name}: credentials (mode 600) in {path}")


@app.command("list")
@fail_clearly
def list_(admin_credentials: AdminFile = None) -> None:
    """Every user with its ACLs, as JSON."""
    from broker.kafka.users import list_users

    print_json(list_users(_admin(admin_credentials)))


@app.command()
@fail_clearly
def remove(
    name: Annotated[str, typer.Argument(help="user name")],
    admin_credentials: AdminFile = None,
) -> None:
    """Delete a user's credentials and ACLs."""
    from broker.kafka.users import remove_user

    n = remove_user(_admin(admin_credentials), name)
    console.print(f"user {name} removed with {n} ACLs")
