"""The filter unit: one small, typed specification per filter.

A filter selects alerts from the enriched stream and publishes them on its
own topic ``<prefix>.filter.<name>`` with an output profile.

* ``kind="sql"``: ``expression`` is a boolean Spark SQL expression (a WHERE
  clause) over the enriched alert's columns.  No code runs.
* ``kind="python"``: ``expression`` is ``module:function``; the function
  receives a pandas DataFrame of the declared ``inputs`` columns and returns
  one boolean per row.

Examples
--------
>>> f = FilterSpec(name="bright", kind="sql", expression="mag < 18")
>>> f.topic("faucon")
'faucon.filter.bright'
>>> try:
...     validate_name("Bad Name!")
... except ValueError as exc:
...     print(str(exc)[:40])
filter name 'Bad Name!' must match ^[a-z
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,62}$")


def validate_name(name: str) -> str:
    """Check a filter name (it becomes part of a Kafka topic name)."""
    if not NAME_RE.match(name):
        raise ValueError(
            f"filter name {name!r} must match {NAME_RE.pattern} (lowercase letters, digits, "
            "underscores; it becomes the topic name)"
        )
    return name


class FilterSpec(BaseModel):
    """One filter, as registered."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    kind: Literal["sql", "python"]
    expression: str = Field(min_length=1)
    profile: Literal["full", "lite", "thin"] = "lite"
    description: str = ""
    owner: str = "faucon"
    version: int = Field(default=1, ge=1)
    enabled: bool = True
    inputs: tuple[str, ...] = ()
    builtin: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_name(value)

    def topic(self, prefix: str) -> str:
        """Kafka topic this filter publishes to."""
        return f"{prefix}.filter.{self.name}"
