#!/usr/bin/env bash
# Print the command of a Docker Compose implementation that can run
# `config` on docker-compose.yml (no Docker engine needed for that), and
# install one when there is none. Idempotent: a second run installs nothing.
#
# Looked for, in order:
#   1. $FAUCON_COMPOSE, if set (e.g. "docker compose" or /usr/local/bin/docker-compose)
#   2. `docker compose` (Compose v2, the Docker CLI plugin)
#   3. `docker-compose` on PATH (v2 standalone, or Debian's v1 package)
# When none answers, Debian's `docker-compose` package is installed with
# apt-get (as root, or through sudo when available).
#
# Output: one line, the command (e.g. /usr/bin/docker-compose). Exit 1 with a
# message saying what to do when no tool can be found or installed.
# Used by `make setup`; read by tests/deploy/test_compose.py (FAUCON_COMPOSE).
set -euo pipefail

works() {
    # shellcheck disable=SC2086  # the command may be two words ("docker compose")
    $1 version >/dev/null 2>&1
}

find_tool() {
    if [[ -n "${FAUCON_COMPOSE:-}" ]] && works "$FAUCON_COMPOSE"; then
        echo "$FAUCON_COMPOSE"
    elif command -v docker >/dev/null 2>&1 && works "docker compose"; then
        echo "docker compose"
    elif command -v docker-compose >/dev/null 2>&1 && works docker-compose; then
        command -v docker-compose
    else
        return 1
    fi
}

if tool=$(find_tool); then
    echo "$tool"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: no Docker Compose found and apt-get is not available; install Docker" \
        "Compose (the docker-compose-plugin or docker-compose package) and retry," \
        "or set FAUCON_COMPOSE to its command" >&2
    exit 1
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        echo "error: no Docker Compose found; install it as root:" \
            "apt-get install -y docker-compose (or set FAUCON_COMPOSE to its command)" >&2
        exit 1
    fi
fi
echo "installing Debian's docker-compose package (needed to validate docker-compose.yml)" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >&2
"${sudo[@]}" apt-get install -y -qq --no-install-recommends docker-compose >&2

if tool=$(find_tool); then
    echo "$tool"
else
    echo "error: docker-compose was installed but does not run (docker-compose version failed)" >&2
    exit 1
fi
