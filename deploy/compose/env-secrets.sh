#!/usr/bin/env bash
# Write the compose stack's secrets into .env (the one command the operator guide gives).
#
#   deploy/compose/env-secrets.sh [ENV_FILE]     # default: ./.env
#
# Creates ENV_FILE from .env.example when it does not exist, then fills each
# of POSTGRES_PASSWORD, AIRFLOW_JWT_SECRET and AIRFLOW_FERNET_KEY that is
# empty with a new random value. Values already set are kept (the database
# was created with them). ENV_FILE is made mode 600; no secret is printed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
env_file=${1:-.env}
umask 077
if [ ! -e "$env_file" ]; then
    cp "$here/../../.env.example" "$env_file"
    echo "created $env_file from .env.example"
fi
chmod 600 "$env_file"

random_hex() { od -An -vtx1 -N"$1" /dev/urandom | tr -d ' \n'; }
fernet_key() { head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n'; }

set_secret() {
    local name=$1 value=$2 current
    current=$(sed -n "s/^$name=//p" "$env_file" | tail -n 1)
    if [ -n "$current" ]; then
        echo "$name: kept (already set)"
        return
    fi
    if grep -q "^$name=" "$env_file"; then
        # the value has only [0-9a-zA-Z=_-]: safe in a sed replacement
        sed -i "s/^$name=.*/$name=$value/" "$env_file"
    else
        printf '%s=%s\n' "$name" "$value" >>"$env_file"
    fi
    echo "$name: written"
}

set_secret POSTGRES_PASSWORD "$(random_hex 24)"
set_secret AIRFLOW_JWT_SECRET "$(random_hex 32)"
set_secret AIRFLOW_FERNET_KEY "$(fernet_key)"
echo "secrets in $env_file (mode 600); next: docker compose build && docker compose up -d"
