"""Local service processes: is a pid alive, wait for it to exit, is a port free.

Used by the local Kafka broker and local Airflow, which run detached from
the ``faucon`` command that starts them.

Examples
--------
>>> import os
>>> alive(os.getpid())
True
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import time
from pathlib import Path

from broker.core.errors import InfrastructureError


def check_port_free(
    name: str,
    address: str,
    service: str = "Kafka broker",
    fix: str = "FAUCON_KAFKA__BOOTSTRAP (the controller uses the next port)",
) -> None:
    """Raise if another process already listens on ``address`` (host:port).

    ``service`` names what needs the port and ``fix`` the settings that move it.
    """
    host, _, port = address.rpartition(":")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Java does
        try:
            sock.bind((host.strip("[]"), int(port)))
        except OSError as exc:
            raise InfrastructureError(
                f"{address} ({name} listener) is already in use by another process, maybe "
                f"another {service} (see `ss -ltnp`). Stop it, or choose free ports with {fix}."
                if exc.errno == errno.EADDRINUSE
                else f"cannot bind {address} for {service}: {exc}"
            ) from None


def alive(pid: int) -> bool:
    """Return whether ``pid`` is a live (non-zombie) process; reap it if it is our child."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    return True


def wait_exit(pid: int, timeout: float) -> bool:
    """Wait until ``pid`` exits; return whether it did within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True
