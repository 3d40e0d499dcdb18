"""Kafka topic administration with confluent_kafka's AdminClient.

Every function takes the Faucon settings and builds its own short-lived
client from :func:`client_config`, which carries the bootstrap servers and
the security settings (SASL/SCRAM password read from a file, never logged).

Examples
--------
>>> from broker.core.config import load_settings
>>> client_config(load_settings(kafka={"bootstrap": "127.0.0.1:19092"}))["bootstrap.servers"]
'127.0.0.1:19092'
>>> s = load_settings()
>>> ensure_topics(s, ["raw.ztf"])  # doctest: +SKIP
['raw.ztf']
>>> topic_counts(s, ["raw.ztf"])  # doctest: +SKIP
{'raw.ztf': 0}
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from broker.core.config import Settings
from broker.core.errors import ConfigError, InfrastructureError
from broker.kafka.credentials import SASL_MECHANISM, sasl_credentials

SECURITY_PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT")
_TIMEOUT_S = 15.0
log = logging.getLogger(__name__)


def client_config(settings: Settings, **extra: Any) -> dict[str, Any]:
    """Return the librdkafka configuration shared by every Faucon client.

    Parameters
    ----------
    settings
        Faucon settings (``settings.kafka``).
    **extra
        More librdkafka properties (dots written as-is), e.g. ``{"client.id": "x"}``.

    Returns
    -------
    dict
        ``bootstrap.servers``, ``security.protocol`` and, for SASL, the SCRAM
        mechanism, user and password (see :mod:`broker.kafka.credentials`).

    Raises
    ------
    ConfigError
        Unknown security protocol, or the SASL user/password file is missing.

    Examples
    --------
    >>> from broker.core.config import load_settings
    >>> client_config(load_settings())["security.protocol"]
    'PLAINTEXT'
    """
    k = settings.kafka
    protocol = k.security_protocol.upper()
    if protocol not in SECURITY_PROTOCOLS:
        raise ConfigError(
            f"kafka.security_protocol={k.security_protocol!r} is not supported; "
            f"use one of {', '.join(SECURITY_PROTOCOLS)}"
        )
    conf: dict[str, Any] = {
        "bootstrap.servers": k.bootstrap,
        "security.protocol": protocol,
        "logger": log,
    }
    if protocol.startswith("SASL"):
        creds = sasl_credentials(settings)
        conf |= {
            "sasl.mechanisms": SASL_MECHANISM,
            "sasl.username": creds.username,
            "sasl.password": creds.password,
        }
    conf.update(extra)
    return conf


def admin_client(settings: Settings) -> AdminClient:
    """Return an AdminClient for the configured cluster."""
    return AdminClient(client_config(settings))


def list_topics(
    settings: Settings, include_internal: bool = False, timeout: float = _TIMEOUT_S
) -> dict[str, int]:
    """Return every topic with its number of partitions.

    Examples
    --------
    >>> list_topics(load_settings())  # doctest: +SKIP
    {'raw.ztf': 2}
    """
    meta = _metadata(admin_client(settings), settings, timeout)
    return {
        name: len(t.partitions)
        for name, t in sorted(meta.topics.items())
        if include_internal or not name.startswith("__")
    }


def replication(settings: Settings, brokers: int) -> tuple[int, int]:
    """Replication factor and ``min.insync.replicas`` of new topics on a cluster of ``brokers``.

    Settings of 0 mean "right for the cluster": replication 1 on one or two
    brokers, 3 on three or more, and ``min.insync.replicas`` 2 when there
    are 3 replicas or more (an ``acks=all`` write then survives one broker's
    loss), else 1.

    Raises
    ------
    ConfigError
        When the configured values cannot be met by this cluster.

    Examples
    --------
    >>> from broker.core.config import load_settings
    >>> replication(load_settings(), 1), replication(load_settings(), 3)
    ((1, 1), (3, 2))
    """
    k = settings.kafka
    replicas = k.replication_factor or (3 if brokers >= 3 else 1)
    min_isr = k.min_insync_replicas or (2 if replicas >= 3 else 1)
    if replicas > brokers:
        raise ConfigError(
            f"FAUCON_KAFKA__REPLICATION_FACTOR={replicas} needs {replicas} brokers, but the "
            f"cluster at {k.bootstrap} has {brokers}; lower it or set it to 0 (automatic)"
        )
    if min_isr > replicas:
        raise ConfigError(
            f"FAUCON_KAFKA__MIN_INSYNC_REPLICAS={min_isr} is more than the {replicas} "
            "replicas of each topic: no write would ever succeed; lower it or set it to 0"
        )
    return replicas, min_isr


def ensure_topics(
    settings: Settings,
    names: Iterable[str],
    partitions: int | None = None,
    config: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> list[str]:
    """Create the topics that do not exist yet; wait until they are usable.

    Parameters
    ----------
    settings
        Faucon settings.
    names
        Topic names.
    partitions
        Partitions of new topics; default ``settings.kafka.partitions``.
    config
        Topic configs of new topics, e.g. ``{"retention.ms": "86400000"}``;
        ``max.message.bytes`` defaults to ``settings.kafka.max_message_bytes``.
    timeout
        Seconds to wait for creation and leadership.

    Returns
    -------
    list[str]
        The topics this call created (existing ones are left as they are).

    Examples
    --------
    >>> ensure_topics(load_settings(), ["raw.ztf"], partitions=4)  # doctest: +SKIP
    ['raw.ztf']
    """
    admin = admin_client(settings)
    wanted = list(dict.fromkeys(names))
    meta = _metadata(admin, settings, timeout)
    existing = meta.topics
    missing = [n for n in wanted if n not in existing]
    replicas, min_isr = replication(settings, len(meta.brokers))
    conf = {
        "max.message.bytes": str(settings.kafka.max_message_bytes),
        "min.insync.replicas": str(min_isr),
        **(config or {}),
    }
    nparts = partitions or settings.kafka.partitions
    created = []
    if missing:
        new = [
            NewTopic(n, num_partitions=nparts, replication_factor=replicas, config=conf)
            for n in missing
        ]
        for name, fut in admin.create_topics(new, request_timeout=timeout).items():
            try:
                fut.result()
                created.append(name)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise InfrastructureError(f"cannot create topic {name!r}: {exc}") from exc
    _wait(admin, settings, wanted, present=True, timeout=timeout)
    if created:
        log.info(
            "created topics %s (%d partitions, %d replicas, min.insync.replicas %d)",
            ", ".join(created),
            nparts,
            replicas,
            min_isr,
        )
    return created


def delete_topics(settings: Settings, names: Iterable[str], timeout: float = 30.0) -> list[str]:
    """Delete the topics that exist; wait until they are gone.

    Returns
    -------
    list[str]
        The topics this call deleted.

    Examples
    --------
    >>> delete_topics(load_settings(), ["raw.test"])  # doctest: +SKIP
    ['raw.test']
    """
    admin = admin_client(settings)
    existing = _metadata(admin, settings, timeout).topics
    targets = [n for n in dict.fromkeys(names) if n in existing]
    deleted = []
    if targets:
        for name, fut in admin.delete_topics(targets, request_timeout=timeout).items():
            try:
                fut.result()
                deleted.append(name)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise InfrastructureError(f"cannot delete topic {name!r}: {exc}") from exc
        _wait(admin, settings, targets, present=False, timeout=timeout)
    return deleted


def topic_counts(
    settings: Settings, names: Iterable[str] | None = None, timeout: float = _TIMEOUT_S
) -> dict[str, int]:
    """Return the number of messages retained in each topic.

    The count is the sum over partitions of high minus low watermark
    (transaction markers, if any, are counted too).

    Parameters
    ----------
    settings
        Faucon settings.
    names
        Topics to count; default every non-internal topic.  Unknown names are skipped.

    Examples
    --------
    >>> topic_counts(load_settings(), ["raw.ztf"])  # doctest: +SKIP
    {'raw.ztf': 10}
    """
    admin = admin_client(settings)
    topics = _metadata(admin, settings, timeout).topics
    wanted = [n for n in names if n in topics] if names is not None else list(topics)
    wanted = sorted(n for n in wanted if names is not None or not n.startswith("__"))
    parts = [TopicPartition(n, p) for n in wanted for p in topics[n].partitions]
    counts = dict.fromkeys(wanted, 0)
    if not parts:
        return counts
    ends = {}
    for sign, spec in ((1, OffsetSpec.latest()), (-1, OffsetSpec.earliest())):
        futures = admin.list_offsets({tp: spec for tp in parts}, request_timeout=timeout)
        for tp, fut in futures.items():
            try:
                ends[(tp.topic, tp.partition, sign)] = fut.result().offset
            except KafkaException as exc:
                raise InfrastructureError(
                    f"cannot read offsets of {tp.topic}[{tp.partition}]: {exc}"
                ) from exc
    for (topic, _, sign), offset in ends.items():
        counts[topic] += sign * offset
    return counts


def _metadata(admin: AdminClient, settings: Settings, timeout: float) -> Any:
    """Return cluster metadata, or explain that Kafka is unreachable."""
    try:
        return admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise InfrastructureError(
            f"Kafka at {settings.kafka.bootstrap} did not answer in {timeout:.0f} s ({exc}); "
            "start it with `faucon kafka start` or fix FAUCON_KAFKA__BOOTSTRAP"
        ) from exc


def _wait(
    admin: AdminClient, settings: Settings, names: list[str], present: bool, timeout: float
) -> None:
    """Wait until every topic exists with a leader on each partition, or is gone."""
    deadline = time.monotonic() + timeout
    while True:
        topics = _metadata(admin, settings, timeout).topics
        if present:
            pending = [
                n
                for n in names
                if n not in topics
                or topics[n].error is not None
                or any(p.leader < 0 for p in topics[n].partitions.values())
            ]
        else:
            pending = [n for n in names if n in topics]
        if not pending:
            return
        if time.monotonic() > deadline:
            state = "created" if present else "deleted"
            raise InfrastructureError(
                f"topics {', '.join(pending)} not {state} after {timeout:.0f} s; "
                "check the broker log (faucon kafka status)"
            )
        time.sleep(0.2)
