#!/usr/bin/env bash
# Create the topics Faucon reads before the stream starts (idempotent).
# Run by the `kafka-init` service of docker-compose.yml, inside the official
# apache/kafka image, with its own kafka-topics.sh.
#
#   RAW_TOPICS         comma-separated survey input topics   (raw.ztf,raw.lsst)
#   RAW_PARTITIONS     partitions of each new input topic     (4): Spark reads
#                      one task per partition, so this bounds the parallelism
#   TOPIC_PREFIX       FAUCON_KAFKA__TOPIC_PREFIX              (faucon)
#   MAX_MESSAGE_BYTES  FAUCON_KAFKA__MAX_MESSAGE_BYTES         (10485760)
#   BOOTSTRAP          the brokers, comma-separated            (kafka:9092)
#   REPLICATION_FACTOR replicas of each topic                  (1; 3 on the
#                      three-broker overlay deploy/compose/kafka-cluster.yml)
#   MIN_INSYNC_REPLICAS min.insync.replicas of each topic      (1; 2 there)
#   KAFKA_TOPICS_SH    the topic tool      (/opt/kafka/bin/kafka-topics.sh)
#   COMMAND_CONFIG     client properties of a super user, when Kafka requires
#                      SASL (deploy/compose/sasl.yml); unset: no authentication
#
# Also creates <prefix>.filters, the filter registry: one partition, compacted
# (the latest definition of each filter is kept forever). Faucon's output
# topics (<prefix>.enriched, <prefix>.filter.*, <prefix>.deadletter) are
# created by the stream itself with FAUCON_KAFKA__PARTITIONS partitions.
set -euo pipefail

BOOTSTRAP=${BOOTSTRAP:-kafka:9092}
RAW_TOPICS=${RAW_TOPICS:-raw.ztf,raw.lsst}
RAW_PARTITIONS=${RAW_PARTITIONS:-4}
TOPIC_PREFIX=${TOPIC_PREFIX:-faucon}
MAX_MESSAGE_BYTES=${MAX_MESSAGE_BYTES:-10485760}
REPLICATION_FACTOR=${REPLICATION_FACTOR:-1}
MIN_INSYNC_REPLICAS=${MIN_INSYNC_REPLICAS:-1}
TOPICS=${KAFKA_TOPICS_SH:-/opt/kafka/bin/kafka-topics.sh}
AUTH=()
if [ -n "${COMMAND_CONFIG:-}" ]; then
    AUTH=(--command-config "$COMMAND_CONFIG")
fi

create() {
    local topic=$1
    shift
    "$TOPICS" --bootstrap-server "$BOOTSTRAP" "${AUTH[@]}" --create --if-not-exists \
        --topic "$topic" --replication-factor "$REPLICATION_FACTOR" \
        --config "min.insync.replicas=$MIN_INSYNC_REPLICAS" "$@"
}

IFS=',' read -r -a raw <<<"$RAW_TOPICS"
for topic in "${raw[@]}"; do
    create "$topic" --partitions "$RAW_PARTITIONS" --config "max.message.bytes=$MAX_MESSAGE_BYTES"
done
create "$TOPIC_PREFIX.filters" --partitions 1 \
    --config cleanup.policy=compact --config min.cleanable.dirty.ratio=0.1

echo "topics on $BOOTSTRAP:"
"$TOPICS" --bootstrap-server "$BOOTSTRAP" "${AUTH[@]}" --list
