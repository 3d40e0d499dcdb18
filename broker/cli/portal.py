"""``faucon portal``: serve the science portal and REST API; manage its users and tokens.

``faucon portal`` alone serves (pages, ``/api/v1``, the ingest feeding the
store).  Passwords are typed at a prompt or read from a file, never taken from
the command line; tokens are written to a mode-600 file, never printed.
With the embedded DuckDB store only one process may open it: manage users
here while the portal is stopped, or on its Users page while it runs.

Examples
--------
>>> from typer.testing import CliRunner
>>> CliRunner().invoke(app, ["--help"]).exit_code
0
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from broker.cli.support import fail_clearly, print_json, run
from broker.core.config import Settings, load_settings
from broker.core.errors import ConfigError

if TYPE_CHECKING:
    from broker.portal.accounts import Accounts

app = typer.Typer(help="The science portal and REST API.", add_completion=False,
                  invoke_without_command=True)  # fmt: skip
user_app = typer.Typer(help="Portal users (roles scientist, operator).", no_args_is_help=True)
app.add_typer(user_app, name="user")
console = Console(stderr=True, soft_wrap=True)

DemoOpt = Annotated[bool, typer.Option("--demo", help="the demo's store and topics (demo.*)")]
PasswordFile = Annotated[
    Path | None, typer.Option(help="read the password from this file (else a prompt)")
]


def _settings(demo: bool) -> Settings:
    from broker.demo import demo_settings

    settings = load_settings()
    return demo_settings(settings) if demo else settings


@contextlib.contextmanager
def _accounts(settings: Settings) -> Iterator[Accounts]:
    from broker.portal.accounts import Accounts
    from broker.portal.app import store_target
    from broker.portal.db import open_database

    db = open_database(*store_target(settings))
    try:
        yield Accounts(db, settings.portal.session_ttl_s, settings.portal.token_ttl_days)
    finally:
        db.close()


def _password(path: Path | None) -> str:
    if path is not None:
        try:
            return path.expanduser().read_text().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read --password-file {path}: {exc.strerror}") from None
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


HostOpt = Annotated[str | None, typer.Option(help="bind address (default: config)")]
PortOpt = Annotated[int | None, typer.Option(help="HTTP port (default: config)")]
IngestOpt = Annotated[bool, typer.Option(help="feed the store from Kafka")]


@app.callback()
def portal(
    ctx: typer.Context, host: HostOpt = None, port: PortOpt = None, demo: DemoOpt = False,
    ingest: IngestOpt = True,
) -> None:  # fmt: skip
    """Serve the portal (pages, /api/v1, OpenAPI) until Ctrl-C; the ingest feeds its store."""
    if ctx.invoked_subcommand is None:
        _serve(host, port, demo, ingest)


@app.command()
def serve(host: HostOpt = None, port: PortOpt = None, demo: DemoOpt = False,
          ingest: IngestOpt = True) -> None:  # fmt: skip
    """The same as `faucon portal` alone (what the compose service runs)."""
    _serve(host, port, demo, ingest)


def _serve(host: str | None, port: int | None, demo: bool, ingest: bool) -> None:
    from broker.portal.app import store_target
    from broker.portal.server import serve as run_server

    settings = _settings(demo)
    update = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if update:
        settings = settings.model_copy(update={"portal": settings.portal.model_copy(update=update)})

    def ready(portal: object) -> None:
        target = store_target(settings)[0]
        topics = f"{settings.kafka.enriched_topic} and {settings.kafka.topic_prefix}.filter.*"
        feed = f"ingest from {topics}" if ingest else "no ingest"
        console.print(f"[bold]Faucon portal[/] on {getattr(portal, 'url', '')} "
                      f"(store {target.split('@')[-1]}; {feed}); Ctrl-C stops it")  # fmt: skip

    run(lambda: run_server(settings, ingest=ingest, on_ready=ready))


@user_app.command("add")
@fail_clearly
def user_add(
    name: Annotated[str, typer.Argument(help="user name (also their Kafka user name)")],
    role: Annotated[str, typer.Option(help="scientist or operator")] = "scientist",
    grant: Annotated[list[str] | None, typer.Option(help="topic or prefix* to grant")] = None,
    password_file: PasswordFile = None,
    demo: DemoOpt = False,
) -> None:
    """Create a portal user."""
    from broker.portal.kafka_access import check_grant

    settings = _settings(demo)
    grants = tuple(check_grant(settings, g) for g in grant or [])
    with _accounts(settings) as accounts:
        user = accounts.add_user(name, _password(password_file), role, grants)
    console.print(f"user {user.name} ({user.role}) created; grants: {', '.join(grants) or 'none'}")


@user_app.command("list")
@fail_clearly
def user_list(demo: DemoOpt = False) -> None:
    """Every portal user with role and grants, as JSON."""
    from dataclasses import asdict

    with _accounts(_settings(demo)) as accounts:
        print_json([asdict(u) for u in accounts.users()])


@user_app.command("grant")
@fail_clearly
def user_grant(
    name: Annotated[str, typer.Argument()],
    patterns: Annotated[list[str], typer.Argument(help="topics or prefix* (replaces the grants)")],
    demo: DemoOpt = False,
) -> None:
    """Set the Kafka topics a user may read beyond their own filters'."""
    from broker.portal.kafka_access import check_grant

    settings = _settings(demo)
    grants = tuple(check_grant(settings, p) for p in patterns)
    with _accounts(settings) as accounts:
        accounts.set_grants(accounts.require(name).name, grants)
    console.print(f"{name} may read: {', '.join(grants)}")


@user_app.command("password")
@fail_clearly
def user_password(
    name: Annotated[str, typer.Argument()], password_file: PasswordFile = None,
    demo: DemoOpt = False,
) -> None:  # fmt: skip
    """Set a user's password (their sessions end)."""
    with _accounts(_settings(demo)) as accounts:
        accounts.set_password(accounts.require(name).name, _password(password_file))
    console.print(f"password of {name} changed")


@user_app.command("token")
@fail_clearly
def user_token(
    name: Annotated[str, typer.Argument()],
    out: Annotated[Path, typer.Option(help="file the token is written to (mode 600)")],
    label: Annotated[str, typer.Option(help="to recognise the token")] = "cli",
    demo: DemoOpt = False,
) -> None:
    """Make an API token for a user, written to a mode-600 file (never printed)."""
    from broker.kafka.credentials import write_secret

    with _accounts(_settings(demo)) as accounts:
        token = accounts.new_token(name, label)
    write_secret(out, token)
    console.print(f"API token of {name} written to {out} (mode 600)")
