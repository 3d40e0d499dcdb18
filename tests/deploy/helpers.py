"""Helpers of the deployment tests: the Compose tool, the Dockerfile, the CLI.

Nothing here needs a Docker engine: ``config`` of a Compose implementation
only reads files, the Dockerfile is parsed statically, and ``faucon``
commands are parsed by the real CLI without running them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer.main
from typer.testing import CliRunner

from broker.core.config import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
ENSURE_TOOL = REPO_ROOT / "deploy" / "compose" / "ensure_compose_tool.sh"
OPERATIONS_DOC = REPO_ROOT / "docs" / "operations.md"
# Values a test .env gives the variables that have no default (never real secrets).
TEST_SECRETS = {
    "POSTGRES_PASSWORD": "test-only-postgres-password",
    "AIRFLOW_JWT_SECRET": "test-only-jwt-secret",
    "AIRFLOW_FERNET_KEY": "test-only-fernet-key",
}
_TOOL_TIMEOUT_S = 30
_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}")
_SHELL_SEPARATORS = {"&&", "||", ";", "|", "&"}
# words after which the next word is the program run (``exec faucon``, ``tini -- faucon``)
_LAUNCHERS = {"exec", "--"}


# ---------------------------------------------------------------------------
# The Compose implementation
# ---------------------------------------------------------------------------


def _answers(command: Sequence[str]) -> bool:
    """Return whether ``COMMAND version`` runs and exits 0."""
    try:
        proc = subprocess.run(
            [*command, "version"], capture_output=True, timeout=_TOOL_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


def find_compose_tool() -> list[str] | None:
    """Find a Compose implementation, as ``deploy/compose/ensure_compose_tool.sh`` does.

    Returns
    -------
    list[str] or None
        The command as argv (``["docker", "compose"]``, ``["/usr/bin/docker-compose"]``),
        or None when there is none; this function never installs anything.
    """
    candidates: list[list[str]] = []
    if override := os.environ.get("FAUCON_COMPOSE"):
        candidates.append(shlex.split(override))
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    if path := shutil.which("docker-compose"):
        candidates.append([path])
    return next((c for c in candidates if _answers(c)), None)


def clean_env(**extra: str) -> dict[str, str]:
    """Return a minimal process environment, so the host's variables cannot leak in.

    Parameters
    ----------
    **extra
        Variables to add.

    Returns
    -------
    dict[str, str]
        ``PATH``, ``HOME``, ``LANG`` (when set) and ``extra``.
    """
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return keep | extra


def run_compose_config(
    tool: Sequence[str], project_dir: Path, *extra_args: str, overlays: Sequence[Path] = ()
) -> subprocess.CompletedProcess[str]:
    """Run ``config`` on the repository's compose file from a test project directory.

    Parameters
    ----------
    tool
        The Compose command (see :func:`find_compose_tool`).
    project_dir
        Directory holding the test ``.env``; relative paths of the file
        (build context, bind mounts, ``env_file``) resolve against it.
    *extra_args
        More arguments of ``config`` (e.g. ``--quiet``).
    overlays
        Compose files merged over the main one (e.g. ``deploy/compose/sasl.yml``).

    Returns
    -------
    subprocess.CompletedProcess
        With text stdout/stderr; the caller checks the exit code.
    """
    cmd = [
        *tool,
        "--project-directory",
        str(project_dir),
        "-f",
        str(COMPOSE_FILE),
        *(arg for path in overlays for arg in ("-f", str(path))),
        "--profile",
        "demo",
        "config",
        *extra_args,
    ]
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=_TOOL_TIMEOUT_S,
        check=False,
        cwd=project_dir,
        env=clean_env(),
    )


def compose_variables(text: str) -> dict[str, set[str]]:
    """Return every ``${VAR...}`` of a compose file with the operators it uses.

    Parameters
    ----------
    text
        The file's text (``$$`` escapes and comments are not variables).

    Returns
    -------
    dict[str, set[str]]
        Variable name to the set of operators used with it (``""`` for a bare
        ``${VAR}``, ``":-"``, ``"-"``, ``":?"``, ``"?"``).

    Examples
    --------
    >>> compose_variables("a: ${A:-1} b: ${B:?set B} c: $${C}  # ${D}")
    {'A': {':-'}, 'B': {':?'}}
    """
    found: dict[str, set[str]] = {}
    lines = [re.sub(r"(^|\s)#.*", "", line) for line in text.splitlines()]  # comments
    for match in _VAR.finditer("\n".join(lines).replace("$$", "")):
        found.setdefault(match["name"], set()).add(match["op"] or "")
    return found


def volume_sources(service: dict[str, Any]) -> list[tuple[str, str]]:
    """Return ``(type, source)`` of each volume of a service (short or long syntax).

    Examples
    --------
    >>> volume_sources({"volumes": ["data:/d", "./x:/x:ro", {"type": "tmpfs", "target": "/t"}]})
    [('volume', 'data'), ('bind', './x'), ('tmpfs', '')]
    """
    result = []
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            result.append((entry.get("type", "volume"), entry.get("source", "")))
            continue
        source = entry.split(":", 1)[0] if ":" in entry else ""
        kind = "bind" if source.startswith((".", "/", "~", "$")) else "volume"
        result.append((kind, source))
    return result


def as_argv(value: str | list[str] | None) -> list[str]:
    """Return a compose ``command``/``entrypoint`` (list or shell string) as argv."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else shlex.split(value)


# ---------------------------------------------------------------------------
# faucon commands
# ---------------------------------------------------------------------------


def faucon_invocations(argv: Sequence[str]) -> list[list[str]]:
    """Find every ``faucon`` invocation in an argv, shell scripts included.

    Parameters
    ----------
    argv
        Entrypoint followed by command. An element holding a shell script
        (``sh -c "..."``) is split and searched too. ``faucon`` counts where a
        program goes (first word, after a shell separator, ``exec`` or ``--``),
        so a user or folder named faucon is not a command.

    Returns
    -------
    list[list[str]]
        The arguments after each ``faucon`` (up to a shell separator).

    Examples
    --------
    >>> faucon_invocations(["faucon", "stream", "--master", "spark://m:7077"])
    [['stream', '--master', 'spark://m:7077']]
    >>> faucon_invocations(["sh", "-c", "faucon kafka status && faucon version"])
    [['kafka', 'status'], ['version']]
    >>> faucon_invocations(["chown", "faucon", "/var/lib/faucon"])
    []
    """
    found: list[list[str]] = []
    tokens = list(argv)
    for i, token in enumerate(tokens):
        at_command = i == 0 or tokens[i - 1] in _SHELL_SEPARATORS | _LAUNCHERS
        if " " in token and "faucon" in token:
            found.extend(faucon_invocations(shlex.split(token)))
        elif at_command and Path(token).name == "faucon":
            args = []
            for arg in tokens[i + 1 :]:
                if arg in _SHELL_SEPARATORS:
                    break
                args.append(arg)
            found.append(args)
    return found


@dataclass(frozen=True)
class ParsedCommand:
    """A ``faucon`` invocation resolved against the real CLI."""

    path: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)


def parse_faucon(args: Sequence[str]) -> ParsedCommand:
    """Resolve and parse ``faucon ARGS`` with the real CLI, without running it.

    Parameters
    ----------
    args
        Arguments after ``faucon``.

    Returns
    -------
    ParsedCommand
        The sub-command path (e.g. ``("kafka", "status")``) and parsed parameters.

    Raises
    ------
    AssertionError
        When a sub-command does not exist, an option is unknown or a value is
        invalid (the message says which), or ``--help`` of the command fails.

    Examples
    --------
    >>> parse_faucon(["stream", "--master", "spark://m:7077"]).path
    ('stream',)
    """
    from broker.cli.main import app

    command: Any = typer.main.get_command(app)
    path: list[str] = []
    rest = list(args)
    while hasattr(command, "commands") and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        known = sorted(command.commands)
        assert name in command.commands, (
            f"`faucon {' '.join([*path, name])}` is not a command of broker.cli.main "
            f"(commands there: {', '.join(known)})"
        )
        path.append(name)
        command = command.commands[name]
    shown = " ".join(["faucon", *args])
    help_result = CliRunner().invoke(app, [*path, "--help"])
    assert help_result.exit_code == 0, f"`faucon {' '.join(path)} --help` failed:\n{help_result}"
    if rest == ["--help"]:
        return ParsedCommand(tuple(path))
    assert not hasattr(command, "commands"), f"`{shown}` names a command group, not a command"
    try:
        ctx = command.make_context(" ".join(["faucon", *path]), rest)
    except Exception as exc:  # the CLI's usage errors (vendored click)
        raise AssertionError(f"`{shown}` does not parse: {exc}") from exc
    return ParsedCommand(tuple(path), dict(ctx.params))


# ---------------------------------------------------------------------------
# Dockerfile
# ---------------------------------------------------------------------------


@dataclass
class Instruction:
    """One Dockerfile instruction (continuation lines joined)."""

    keyword: str
    value: str
    line: int

    def exec_form(self) -> list[str]:
        """Return the arguments of ENTRYPOINT/CMD/RUN (JSON or shell form)."""
        text = self.value.strip()
        if text.startswith("["):
            parsed = json.loads(text)
            assert all(isinstance(a, str) for a in parsed), f"line {self.line}: not strings"
            return list(parsed)
        return shlex.split(text)


@dataclass
class Stage:
    """One build stage: its base image (ARGs substituted), name and instructions."""

    image: str
    name: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        """Return the stage's instructions with this keyword, in order."""
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        """Return the stage's last instruction with this keyword, if any."""
        found = self.all(keyword)
        return found[-1] if found else None


@dataclass
class Dockerfile:
    """A parsed Dockerfile: global ARG defaults and stages."""

    args: dict[str, str]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        """Return the stage named ``name``."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise AssertionError(f"no stage {name!r} in {DOCKERFILE} ({self.stage_names()})")

    def stage_names(self) -> list[str]:
        """Return the names of the named stages, in order."""
        return [s.name for s in self.stages if s.name]


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Yield (first line number, text) of each instruction, comments dropped."""
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue  # comments may sit inside a continued instruction
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer.append(stripped[:-1].strip())
            continue
        buffer.append(stripped)
        yield start, " ".join(b for b in buffer if b)
        buffer = []
    if buffer:
        yield start, " ".join(buffer)


def substitute(text: str, args: dict[str, str]) -> str:
    """Replace ``${NAME}`` and ``$NAME`` with ARG defaults (unknown names stay).

    Examples
    --------
    >>> substitute("apache/spark:${V}", {"V": "4.0.0"})
    'apache/spark:4.0.0'
    """

    def repl(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return args.get(name, match.group(0))

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", repl, text)


def parse_dockerfile(text: str) -> Dockerfile:
    """Parse a Dockerfile into global ARG defaults and stages.

    Parameters
    ----------
    text
        The Dockerfile's text.

    Returns
    -------
    Dockerfile
        FROM images have the global ARG defaults substituted.

    Examples
    --------
    >>> d = parse_dockerfile("ARG V=1.2\\nFROM img:${V} AS a\\nUSER x\\n")
    >>> d.stages[0].image, d.stages[0].name, d.stages[0].last("USER").value
    ('img:1.2', 'a', 'x')
    """
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line, instruction in _logical_lines(text):
        keyword, _, value = instruction.partition(" ")
        keyword = keyword.upper()
        value = value.strip()
        if keyword == "FROM":
            words = [w for w in value.split() if not w.startswith("--platform")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(substitute(words[0], args), name, line))
        elif not stages:
            assert keyword == "ARG", f"line {line}: only ARG may precede the first FROM"
            key, _, default = value.partition("=")
            args[key.strip()] = default.strip().strip('"')
        else:
            stages[-1].instructions.append(Instruction(keyword, value, line))
    return Dockerfile(args, stages)


def split_image(reference: str) -> tuple[str, str | None]:
    """Split an image reference into repository and tag (None when untagged).

    Examples
    --------
    >>> split_image("apache/spark:4.0.0")
    ('apache/spark', '4.0.0')
    >>> split_image("localhost:5000/x")
    ('localhost:5000/x', None)
    """
    name = reference.split("@", 1)[0]
    repo, sep, tag = name.rpartition(":")
    if not sep or "/" in tag:
        return name, None
    return repo, tag
