"""Settings of the science portal and REST API (``faucon portal``).

Mounted in :class:`broker.core.config.Settings` as ``portal`` (environment
``FAUCON_PORTAL__<FIELD>``).  The store is embedded DuckDB in the state
directory unless ``store_url`` names a PostgreSQL database; its password
comes from ``store_password`` or ``store_password_file``, never from the URL.

Examples
--------
>>> s = PortalSettings()
>>> s.port, s.max_cone_radius_deg, s.session_ttl_s
(8000, 10.0, 28800.0)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class PortalSettings(BaseModel):
    """The portal's server, store, limits and sessions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field("127.0.0.1", description="address the portal binds (0.0.0.0 in compose)")
    port: int = Field(8000, ge=1, le=65535, description="HTTP port of the portal and its API")
    public_url: str = Field(
        "", description="URL users reach the portal at (printed); empty: http://HOST:PORT"
    )
    store_url: str = Field(
        "",
        description="alert store: empty = DuckDB file <state_dir>/portal/<topic_prefix>.duckdb; "
        "or postgresql://USER@HOST:PORT/DB (password from store_password[_file])",
    )
    store_password: SecretStr = Field(
        SecretStr(""), description="PostgreSQL password of the store (a secret; prefer the file)"
    )
    store_password_file: str = Field(
        "", description="file holding the PostgreSQL password of the store, on one line"
    )
    store_cutouts: bool = Field(
        True, description="keep the three image cutouts of every alert (about 40 KB per ZTF alert)"
    )
    zone_height_deg: float = Field(
        0.5, gt=0, le=10, description="height of the declination zones of the sky index, degrees"
    )
    max_cone_radius_deg: float = Field(
        10.0, gt=0, le=180, description="largest cone-search radius accepted, degrees"
    )
    page_size: int = Field(50, ge=1, description="rows per page of a list when none is asked")
    max_page_size: int = Field(500, ge=1, description="most rows one page of a list may hold")
    max_offset: int = Field(
        100_000, ge=0, description="deepest offset a list may be paged to (use narrower queries)"
    )
    session_ttl_s: float = Field(
        28_800.0, gt=0, description="a login session expires this long after login, seconds"
    )
    token_ttl_days: float = Field(
        90.0, gt=0, description="an API token expires this long after it is made, days"
    )
    secure_cookies: bool = Field(
        False, description="mark session cookies Secure (set when served over HTTPS)"
    )
    ingest: bool = Field(True, description="feed the store from the enriched and filter topics")
    ingest_batch: int = Field(
        1000, ge=1, description="most Kafka messages written to the store in one transaction"
    )
    backtest_max_alerts: int = Field(
        5_000, ge=1, description="most alerts one portal backtest may evaluate"
    )
    live_refresh_s: float = Field(
        3.0, gt=0, description="how often the live filter page asks for new alerts, seconds"
    )
    client_bootstrap: str = Field(
        "",
        description="bootstrap servers written into downloaded client configs; empty: "
        "kafka.bootstrap",
    )
    admin_credentials_file: str = Field(
        "",
        description="client properties of a Kafka super user, to create SCRAM users on a "
        "secured broker; empty: the local broker's own",
    )

    @field_validator("store_url")
    @classmethod
    def _store_url(cls, value: str) -> str:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be empty (DuckDB) or postgresql://USER@HOST:PORT/DB")
        if "@" in value and ":" in value.split("://", 1)[1].split("@", 1)[0]:
            raise ValueError("must not hold a password; set store_password_file instead")
        return value
