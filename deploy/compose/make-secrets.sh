#!/usr/bin/env bash
# Create the Kafka super user's secret for deploy/compose/sasl.yml (once).
#
#   deploy/compose/make-secrets.sh [DIR]     # default: ./secrets
#
# Writes DIR/kafka_admin.properties (mode 600): a Kafka client properties
# file for the user faucon-admin with a random password. The kafka service
# reads it to create the super user; users-init uses it to create the
# service users (faucon-stream, faucon-replay, faucon-airflow). Subscribers
# are added later with `faucon users add NAME --read PATTERN
# --admin-credentials DIR/kafka_admin.properties`. Never commit DIR.
set -euo pipefail
dir=${1:-secrets}
file="$dir/kafka_admin.properties"
if [ -e "$file" ]; then
    echo "$file exists; delete it first to change the password (and the Kafka data volume)" >&2
    exit 1
fi
umask 077
mkdir -p "$dir"
password=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
{
    echo "security.protocol=SASL_PLAINTEXT"
    echo "sasl.mechanism=SCRAM-SHA-512"
    echo "sasl.username=faucon-admin"
    echo "sasl.password=$password"
    echo "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"faucon-admin\" password=\"$password\";"
} >"$file"
echo "wrote $file (mode 600)"
