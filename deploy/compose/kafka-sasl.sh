#!/usr/bin/env bash
# Start the official Apache Kafka (KRaft, one node) with SASL/SCRAM-SHA-512
# listeners and ACLs: the `kafka` service of deploy/compose/sasl.yml, inside
# the apache/kafka image, and tests/deploy/test_compose_sasl.py on the host.
#
#   KAFKA_ADMIN_SECRET   client properties of the super user (sasl.password=...)
#                        (/run/secrets/kafka_admin, from deploy/compose/make-secrets.sh)
#   KAFKA_LISTENERS      e.g. INTERNAL://:9092,CONTROLLER://:9093,EXTERNAL://:9094
#   KAFKA_ADVERTISED_LISTENERS, KAFKA_CONTROLLER_QUORUM_VOTERS (1@kafka:9093)
#   KAFKA_LOG_DIRS       data folder                      (/var/lib/kafka/data)
#   CLUSTER_ID           formatted once, on first start
#   KAFKA_HOME           the distribution, jars in libs/  (/opt/kafka)
#   KAFKA_MESSAGE_MAX_BYTES, KAFKA_NUM_PARTITIONS, KAFKA_HEAP_OPTS
#
# The same layout as `faucon kafka start` with FAUCON_KAFKA__SECURITY_PROTOCOL=
# SASL_PLAINTEXT (broker/kafka/sasl.py): clients use SCRAM-SHA-512 on every
# broker listener, the controller listener PLAIN with the super user only,
# nothing is allowed without an ACL. The password never reaches a command
# line: server.properties and the storage tool's @argfile are mode 600.
set -euo pipefail

SECRET=${KAFKA_ADMIN_SECRET:-/run/secrets/kafka_admin}
KAFKA_HOME=${KAFKA_HOME:-/opt/kafka}
DATA=${KAFKA_LOG_DIRS:-/var/lib/kafka/data}
CONF=${KAFKA_CONF_DIR:-/tmp/faucon-kafka}
ADMIN=faucon-admin
LISTENERS=${KAFKA_LISTENERS:?set KAFKA_LISTENERS}
NAMES=$(printf '%s' "$LISTENERS" | tr ',' '\n' | sed 's/:.*//' | grep -v '^CONTROLLER$' | tr '\n' ' ')
FIRST=${NAMES%% *}

password=$(sed -n 's/^sasl\.password=//p' "$SECRET" | head -n 1)
if [ -z "$password" ]; then
    echo "kafka-sasl.sh: no sasl.password= line in $SECRET; run deploy/compose/make-secrets.sh" >&2
    exit 2
fi

umask 077
mkdir -p "$CONF" "$DATA"
scram="org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$ADMIN\" password=\"$password\";"
plain="org.apache.kafka.common.security.plain.PlainLoginModule required username=\"$ADMIN\" password=\"$password\" user_$ADMIN=\"$password\";"
protocols="CONTROLLER:SASL_PLAINTEXT"
for name in $NAMES; do protocols="$protocols,$name:SASL_PLAINTEXT"; done
{
    echo "process.roles=broker,controller"
    echo "node.id=${KAFKA_NODE_ID:-1}"
    echo "controller.quorum.voters=${KAFKA_CONTROLLER_QUORUM_VOTERS:-1@kafka:9093}"
    echo "controller.listener.names=CONTROLLER"
    echo "listeners=$LISTENERS"
    echo "advertised.listeners=${KAFKA_ADVERTISED_LISTENERS:?set KAFKA_ADVERTISED_LISTENERS}"
    echo "inter.broker.listener.name=$FIRST"
    echo "listener.security.protocol.map=$protocols"
    echo "log.dirs=$DATA"
    echo "num.partitions=${KAFKA_NUM_PARTITIONS:-2}"
    echo "auto.create.topics.enable=false"
    echo "default.replication.factor=1"
    echo "min.insync.replicas=1"
    echo "offsets.topic.replication.factor=1"
    echo "transaction.state.log.replication.factor=1"
    echo "transaction.state.log.min.isr=1"
    echo "share.coordinator.state.topic.replication.factor=1"
    echo "share.coordinator.state.topic.min.isr=1"
    echo "group.initial.rebalance.delay.ms=0"
    echo "message.max.bytes=${KAFKA_MESSAGE_MAX_BYTES:-10485760}"
    echo "replica.fetch.max.bytes=${KAFKA_MESSAGE_MAX_BYTES:-10485760}"
    echo "log.retention.hours=${KAFKA_LOG_RETENTION_HOURS:-168}"
    echo "sasl.enabled.mechanisms=SCRAM-SHA-512"
    echo "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512"
    echo "sasl.mechanism.controller.protocol=PLAIN"
    echo "listener.name.controller.sasl.enabled.mechanisms=PLAIN"
    echo "listener.name.controller.plain.sasl.jaas.config=$plain"
    for name in $NAMES; do
        lower=$(printf '%s' "$name" | tr '[:upper:]' '[:lower:]')
        echo "listener.name.$lower.scram-sha-512.sasl.jaas.config=$scram"
    done
    echo "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    echo "super.users=User:$ADMIN"
    echo "allow.everyone.if.no.acl.found=false"
} >"$CONF/server.properties"

# The health check's client configuration (the super user).
{
    echo "security.protocol=SASL_PLAINTEXT"
    echo "sasl.mechanism=SCRAM-SHA-512"
    echo "sasl.jaas.config=$scram"
} >"$CONF/admin-client.properties"

classpath="$KAFKA_HOME/libs/*"
if [ ! -f "$DATA/meta.properties" ]; then
    printf '"%s"\n' -cp "$classpath" kafka.tools.StorageTool format \
        -t "${CLUSTER_ID:?set CLUSTER_ID}" -c "$CONF/server.properties" \
        --add-scram "SCRAM-SHA-512=[name=$ADMIN,password=$password]" >"$CONF/format.args"
    java @"$CONF/format.args" || { rm -f "$CONF/format.args"; exit 1; }
    rm -f "$CONF/format.args"
fi
# shellcheck disable=SC2086  # KAFKA_HEAP_OPTS holds several JVM options
exec java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m} -XX:+UseG1GC -Djava.awt.headless=true \
    -cp "$classpath" kafka.Kafka "$CONF/server.properties"
