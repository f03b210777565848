"""One settings object for the whole system, read from the environment (``TRACEABILITY_*``) or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from limits import parse_many
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_DB_URL", "Settings", "get_settings"]

DEFAULT_DB_URL = "sqlite:///traceability.db"


class Settings(BaseSettings):
    """Where the data lives and how codes are rendered; every field has a zero-set-up default."""

    # populate_by_name: a field with an environment alias (policy_file) is still set by name, Settings(policy_file=…).
    model_config = SettingsConfigDict(
        env_prefix="TRACEABILITY_", env_file=".env", extra="ignore", populate_by_name=True
    )

    db: str = DEFAULT_DB_URL
    """SQLAlchemy URL; ``--db`` overrides it. The default is a SQLite file in the working directory."""

    read_db: str | None = None
    """A read replica's SQLAlchemy URL (a PostgreSQL hot standby): the read-only queries that may be a moment stale
    (the EPCIS event query, a settlement statement) go there, so they take no load off the primary's writers. Unset:
    every read goes to ``db``. Authentication and every write stay on ``db``."""

    key_dir: Path = Path("keys")
    """Directory of private key files. Never inside the database."""

    key_passphrase: SecretStr | None = None
    """Encrypts new private key files and decrypts existing ones when set."""

    resolver: str = "https://id.example.com"
    """Host of the GS1 Digital Link URIs printed in QR codes."""

    company_prefix_length: int = 7
    """GS1 company prefix length used when exporting SGTIN / SGLN URNs."""

    epcis_schema: Path | None = None
    """The GS1 EPCIS 2.0 JSON schema file; when set, every captured document is validated against it too."""

    epcis_xsd_dir: Path | None = None
    """The folder of GS1's EPCIS 2.0 XSD (``EPCglobal-epcis-2_0.xsd`` and the files it imports; not shipped, its
    licence does not grant redistribution); when set, every XML capture is validated against it and one it refuses
    is answered 400 with the XSD's message and line."""

    epcis_webhook_allow_private: bool = False
    """Whether a subscription's ``dest`` may be in a private, loopback or link-local range (or resolve to one at
    delivery): off, so a key cannot make the server call into its own network; on for a test's local receiver."""

    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=0)
    """Largest request body accepted, in bytes (16 MiB: an EPCIS document of about 40,000 events, a 48 MP photo);
    a larger one is refused with 413 before it is read."""

    max_capture_events: int = Field(default=10_000, ge=1)
    """Most events one EPCIS capture may hold (the binding's ``GS1-EPCIS-Capture-Limit``); more is refused with 413."""

    max_json_depth: int = Field(default=64, ge=1)
    """Deepest nesting of arrays and objects accepted in a JSON body (an EPCIS event with sensor data is about 8);
    a deeper one is refused with 422 before it is parsed."""

    max_image_pixels: int = Field(default=50_000_000, ge=1)
    """Largest image (width × height) decoded (50 M: a 48 MP photo); checked from the file header before decoding,
    a larger one is refused with 413."""

    policy_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("TRACEABILITY_POLICY_FILE", "TRACEABILITY_POLICY")
    )
    """The rebate and settlement policy (TOML, ``docs/settlement.md``); unset means DESIGN.md's defaults. The older
    name ``TRACEABILITY_POLICY`` is still read, so existing deployments keep their policy."""

    clone_clock_skew_minutes: float = Field(default=10.0, ge=0, le=24 * 60)
    """How far scanner clocks may disagree (minutes): the clone rule widens the time between two sightings by it."""

    rate_limit_enabled: bool = True
    """Whether the public doors (the consumer check, the resolver page, sign-in) are rate-limited; off only for a
    load test behind a limiter of its own."""

    public_rate_limit_client: str = "120/minute"
    """Consumer checks one client (an address; an IPv6 /64) may make, over the check page, the resolver page and
    ``/check/inspect`` together (a ``limits`` string: ``"120/minute"``, ``"1000/day;120/minute"``)."""

    public_rate_limit_code: str = "30/minute"
    """Checks of one code (its matching key), from every client together: enough for a shop's queue, too few to
    inflate a code's check count or to probe it."""

    login_rate_limit: str = "20/minute"
    """Sign-in attempts one client may make: keys cannot be guessed, and this keeps it so."""

    rate_limit_storage: str = "memory://"
    """Where the limiter keeps its counts (a ``limits`` storage URI): per process by default; a shared store such as
    ``redis://host:6379`` when several workers or machines serve the app."""

    trusted_proxy_hops: int = Field(default=0, ge=0, le=10)
    """Reverse proxies in front of the app that append the client's address to ``X-Forwarded-For``. 0 (the default)
    ignores the header, which any client can write; 1 takes its last address (the one our proxy saw), and so on."""

    pdf_font_path: Path | None = None
    """The CJK TrueType font (``.ttf`` or ``.ttc``) that report PDFs embed; unset means WenQuanYi Micro Hei as
    Debian's ``fonts-wqy-microhei`` installs it (``traceability.fonts``)."""

    worker_interval_seconds: float = Field(default=15.0, gt=0, le=3600)
    """How often ``traceability worker`` runs its due jobs (lapsing expired order offers, …): an offer lapses at most
    this long after its deadline."""

    @field_validator("public_rate_limit_client", "public_rate_limit_code", "login_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        # Refused when the settings are read, so a mistyped limit stops the start, never a request.
        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit (write e.g. 120/minute or 1000/day;120/minute)") from None
        return value

    @field_validator("epcis_xsd_dir")
    @classmethod
    def _xsd_dir_holds_the_schema(cls, value: Path | None) -> Path | None:
        # Refused when the settings are read: a wrong folder stops the start, never an XML capture.
        if value is not None and not (value / "EPCglobal-epcis-2_0.xsd").is_file():
            raise ValueError(f"{value} holds no EPCglobal-epcis-2_0.xsd (the folder of GS1's EPCIS 2.0 XSD)")
        return value

    @field_validator("db", "read_db")
    @classmethod
    def _normalise_db(cls, value: str | None) -> str | None:
        # Accept the plain PostgreSQL form that psql users paste; we drive it through psycopg 3.
        if value is None:
            return None
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @field_validator("resolver")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("key_passphrase")
    @classmethod
    def _reject_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().lower() in {"changeme", "change-me", "secret", ""}:
            raise ValueError("TRACEABILITY_KEY_PASSPHRASE is a placeholder; set a real passphrase or unset it")
        return value


@lru_cache
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()
