"""Faucon's exception hierarchy.

Every error raised on purpose derives from :class:`FauconError`.  The three
stage families mirror how the stream treats them:

* :class:`DeserializeError` -- one input message could not be decoded; the
  message goes to the dead-letter topic with ``reason`` and the stream goes on.
* :class:`ProcessError` -- one alert or one pluggable unit (filter, enricher,
  classifier) failed; counted and quarantined, the stream goes on.
* :class:`ProduceError` -- output could not be written; fatal for the batch
  (Spark retries it, input offsets do not advance).
* :class:`InfrastructureError` -- Kafka, Spark, Java or a jar is missing or
  down; fatal, with a message saying what to do.

Examples
--------
>>> try:
...     raise DeserializeError("truncated_avro", "block ends early")
... except FauconError as exc:
...     print(exc.reason)
truncated_avro
"""

from __future__ import annotations


class FauconError(Exception):
    """Base class of every error Faucon raises on purpose."""


class ConfigError(FauconError):
    """Configuration is invalid; the message names the setting and the fix."""


class InfrastructureError(FauconError):
    """A required service or file (Kafka, Spark, Java, a jar) is unavailable."""


class AccessDenied(FauconError):
    """The Kafka user is not authenticated, or has no ACL for what it tried."""


class DeserializeError(FauconError):
    """One input message cannot be decoded.

    Parameters
    ----------
    reason
        Short machine-readable reason, used as the dead-letter reason and as a
        counter label (for example ``unknown_schema_id``).
    detail
        Human-readable explanation.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class ProcessError(FauconError):
    """One alert or one pluggable unit failed while processing."""


class ProduceError(FauconError):
    """Output could not be produced to Kafka."""
