"""Settings of the services Faucon talks to: Kafka and Spark.

Mounted in :class:`broker.core.config.Settings` as ``kafka`` and ``spark``
(environment ``FAUCON_KAFKA__<FIELD>``, ``FAUCON_SPARK__<FIELD>``).

Examples
--------
>>> KafkaSettings().enriched_topic, SparkSettings().master
('faucon.enriched', 'local[2]')
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(BaseModel):
    """Kafka connection and topic names."""

    model_config = _FROZEN
    bootstrap: str = Field("127.0.0.1:9092", description="bootstrap servers, host:port[,...]")
    subscribe_pattern: str = Field(
        r"raw\..+", description="Java regex of the survey input topics the stream reads"
    )
    topic_prefix: str = Field("faucon", description="prefix of every topic Faucon writes")
    partitions: int = Field(2, ge=1, description="partitions of topics Faucon creates")
    replication_factor: int = Field(
        0,
        ge=0,
        description="replicas of each topic Faucon creates; 0: 1 on a one- or two-broker "
        "cluster, 3 on three or more",
    )
    min_insync_replicas: int = Field(
        0,
        ge=0,
        description="min.insync.replicas of the topics Faucon creates (acks=all writes need "
        "this many replicas); 0: 2 when the replication factor is 3 or more, else 1",
    )
    max_message_bytes: int = Field(
        10_485_760, ge=1024, description="largest message accepted by broker and clients, bytes"
    )
    compression: str = Field(
        "none",
        pattern="^(none|lz4|zstd|snappy|gzip)$",
        description="compression of the messages Faucon produces (ZTF cutouts are already gzip)",
    )
    linger_ms: int = Field(20, ge=0, description="producer batching delay, milliseconds")
    outage_tolerance_s: float = Field(
        300.0,
        ge=30.0,
        description="how long the stream's writes wait for an unreachable Kafka before the "
        "micro-batch fails (the process then exits 2 for its supervisor to restart), seconds",
    )
    security_protocol: str = Field(
        "PLAINTEXT",
        pattern="^(PLAINTEXT|SASL_PLAINTEXT)$",
        description="PLAINTEXT or SASL_PLAINTEXT (SCRAM-SHA-512; the local broker then "
        "enforces ACLs)",
    )
    sasl_username: str = Field("", description="SASL/SCRAM user of this process")
    sasl_password_file: str = Field(
        "", description="file holding the SASL password (never put the password itself here)"
    )
    sasl_password: SecretStr = Field(
        SecretStr(""),
        description="SASL password from the environment (a secret: prefer sasl_password_file)",
    )
    credentials_file: str = Field(
        "",
        description="Kafka client properties file with sasl.username and sasl.password, "
        "as written by `faucon users add`",
    )

    @field_validator("subscribe_pattern")
    @classmethod
    def _valid_regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value

    @property
    def enriched_topic(self) -> str:
        """Topic with every alert that passed decoding and quality cuts."""
        return f"{self.topic_prefix}.enriched"

    @property
    def deadletter_topic(self) -> str:
        """Topic with every rejected message, its reason and original bytes."""
        return f"{self.topic_prefix}.deadletter"

    def filter_topic(self, name: str) -> str:
        """Topic of one filter's selection."""
        return f"{self.topic_prefix}.filter.{name}"


class SparkSettings(BaseModel):
    """Spark session and streaming query."""

    model_config = _FROZEN
    master: str = Field("local[2]", description="Spark master URL (local[N] or spark://host:7077)")
    trigger_seconds: float = Field(1.0, gt=0, description="micro-batch trigger interval, seconds")
    max_offsets_per_trigger: int = Field(
        10_000, ge=1, description="most Kafka messages read in one micro-batch"
    )
    driver_memory: str = Field("2g", description="Spark driver JVM heap")
    executor_memory: str = Field("2g", description="Spark executor JVM heap (cluster mode)")
    shuffle_partitions: int = Field(2, ge=1, description="spark.sql.shuffle.partitions")
    arrow_batch_rows: int = Field(
        500, ge=1, description="rows per Arrow batch sent to Python workers"
    )
    starting_offsets: str = Field(
        "earliest", description="where a new stream starts: earliest|latest"
    )
    cluster_port: int = Field(
        7077, ge=1, le=65535, description="port of the local standalone master (faucon spark)"
    )
    cluster_ui_port: int = Field(
        8090, ge=1, le=65535, description="web UI and JSON status port of that master"
    )
    worker_cores: int = Field(1, ge=1, description="cores each local standalone worker offers")
    worker_memory: str = Field("2g", description="memory each local standalone worker offers")
