#!/usr/bin/env bash
# Install what the portal's tests need from Debian's packages when it is missing:
#   chromium + chromium-driver  the real browser of tests/broker/portal/test_browser.py
#                               (/usr/bin/chromium, /usr/bin/chromedriver; a test tool's
#                               own browser download is not used)
#   postgresql                  a throw-away server for the PostgreSQL store tests
# Idempotent: a second run installs nothing. Used by `make setup` (not by `make demo`).
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if ! command -v initdb >/dev/null 2>&1 && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    missing+=(postgresql)
fi
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "chromium, chromedriver and postgresql are installed"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: ${missing[*]} missing and apt-get is not available; install them" \
        "(Chromium with its ChromeDriver, and a PostgreSQL server) and retry" >&2
    exit 1
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        echo "error: ${missing[*]} missing; install as root: apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi
echo "installing Debian's ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq "${missing[@]}"
command -v chromium >/dev/null && command -v chromedriver >/dev/null
