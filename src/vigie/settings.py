"""One typed settings object, read from the environment (prefix ``VIGIE_``) once at start.

Build it with :func:`Settings` (or :func:`load_settings`) at the edge — CLI entry point,
server start, test fixture — and pass it down. Nothing in Vigie reads the environment
anywhere else.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PLACEHOLDERS = frozenset({"", "changeme", "change-me", "password", "secret", "example", "xxx"})


class Settings(BaseSettings):
    """Vigie's configuration. Every field can be set as ``VIGIE_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="VIGIE_", extra="ignore")

    environment: Literal["development", "production"] = Field(
        "development",
        description="`production` refuses placeholder passwords, a SQLite database "
        "in a relative directory and a weak password hash cost.",
    )
    data_dir: Path = Field(
        Path("vigie-data"),
        description="Directory holding the SQLite database, instance secrets and outputs.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL. Default: a SQLite file `vigie.db` under the data directory. "
        "PostgreSQL: `postgresql+psycopg://user@host/db`.",
    )
    secrets_dir: Path | None = Field(
        None,
        description="Directory of instance secrets (files mode 0600). Default: DATA_DIR/secrets.",
    )
    audit_checkpoint_every_events: int = Field(
        10_000, ge=1, description="Sign a checkpoint automatically after this many new events."
    )
    audit_checkpoint_every_seconds: float = Field(
        300.0, gt=0, description="Sign a checkpoint automatically when the last is this old."
    )
    audit_max_unanchored_events: int = Field(
        30_000,
        ge=0,
        description="`vigie audit verify --strict` fails, and leak attribution, canary trips "
        "and the authority pack refuse to run, when more events than this follow the last "
        "signed checkpoint (default: 3 times the checkpoint interval).",
    )
    audit_max_unanchored_seconds: float = Field(
        900.0,
        gt=0,
        description="`vigie audit verify --strict` fails, and leak attribution, canary trips "
        "and the authority pack refuse to run, when the oldest event after the last signed "
        "checkpoint is older than this (default: 3 times the checkpoint interval).",
    )
    audit_max_pending_seconds: float = Field(
        5.0,
        gt=0,
        description="`vigie audit verify` fails when an event committed by the gateway has "
        "waited longer than this for the sequencer to put it on the chain (a failing "
        "sequencer).",
    )
    audit_sequencer_poll_seconds: float = Field(
        0.05,
        gt=0,
        description="How often the active sequencer looks for committed events to integrate; "
        "a standby looks this often (at least every second) whether it can take over.",
    )
    audit_sequencer_lease_seconds: float = Field(
        3.0,
        gt=0,
        description="How long the elected sequencer's lease lasts without renewal: a "
        "sequencer that dies or is paused longer than this is replaced by a standby, and "
        "fenced off when it resumes.",
    )
    gateway_max_page_size: int = Field(
        100, ge=1, le=1000, description="Largest page the processor API serves."
    )
    gateway_cursor_ttl_seconds: int = Field(
        86_400, ge=60, description="How long a page cursor of the processor API stays valid."
    )
    gateway_max_body_bytes: int = Field(
        16_384, ge=1024, description="Largest request body the processor API accepts (413 above)."
    )
    attestation_max_bytes: int = Field(
        5_000_000,
        ge=1024,
        description="Largest evidence PDF an attestation may carry (413 above); the processor "
        "API's attestation route alone takes a body this large (plus its form fields), every "
        "other route keeps `gateway_max_body_bytes`.",
    )
    gateway_docs: bool = Field(
        True,
        description="Serve the interactive API documentation at `/api/docs` (its scripts come "
        "from the installed package, never a CDN). `false` turns the page off; the OpenAPI "
        "schema stays at `/api/v1/openapi.json`.",
    )
    http_max_line_bytes: int = Field(
        8_192,
        ge=1024,
        description="Longest request target, and longest header line (name and value), a "
        "listener accepts: 414 / 431 above (nginx's default buffer is 8 KB).",
    )
    http_max_head_bytes: int = Field(
        32_768,
        ge=1024,
        description="Largest total of a request's header lines a listener accepts: 431 above "
        "(nginx: four 8 KB buffers).",
    )
    metrics_allow: list[str] = Field(
        ["127.0.0.1/32", "::1/128"],
        description="Client networks (CIDR, a JSON list) allowed to read `/metrics` on every "
        "listener; any other client gets a 404. Put your Prometheus's address here.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = Field(
        None,
        description="Level of the JSON log lines on standard error. Default: `INFO` for "
        "`vigie serve` (one access line per request), `WARNING` for other commands. No "
        "level writes personal data: see docs/operations.md.",
    )
    log_file: Path | None = Field(
        None,
        description="Also append the JSON log lines to this file. Unset: standard error only.",
    )
    siem_url: str | None = Field(
        None,
        description="Where `vigie siem push` sends alerts, suspensions, incidents and operator "
        "actions as OCSF events: `syslog+tcp://HOST:PORT` or `syslog+tls://HOST:PORT` "
        "(RFC 5424; `?ca=/path/ca.pem` to trust a CA of your own) or `file:///PATH` (JSON "
        "lines). Unset: no SIEM export.",
    )
    siem_webhook_url: str | None = Field(
        None,
        description="Also POST the same OCSF events, a batch per request, to this URL "
        "(`https://…`), signed like the alert webhook (`X-Vigie-Signature: sha256=HMAC`, "
        "key from `vigie siem webhook-secret`), at least once. Unset: no SIEM webhook.",
    )
    console_max_body_bytes: int = Field(
        65_536, ge=1024, description="Largest request body the console accepts (413 above)."
    )
    console_session_idle_minutes: int = Field(
        30, ge=1, description="A console session unused this long is over: sign in again."
    )
    console_session_absolute_hours: int = Field(
        12, ge=1, description="A console session ends this long after sign-in, however used."
    )
    console_password_time_cost: int = Field(
        3,
        ge=1,
        description="Argon2id passes over memory when an operator's password is hashed "
        "(default 3, with the two settings below RFC 9106's low-memory profile). "
        "`production` refuses fewer than 2.",
    )
    console_password_memory_kib: int = Field(
        65_536,
        ge=8,
        description="Argon2id memory per password hash, in KiB (default 64 MiB). "
        "`production` refuses less than 19,456 (19 MiB, OWASP's minimum).",
    )
    console_password_parallelism: int = Field(
        4, ge=1, le=64, description="Argon2id lanes per password hash."
    )
    console_login_per_account: str = Field(
        "5/15 minutes",
        description="Failed console sign-ins allowed per account (the `limits` library's "
        "notation); past it the account's sign-in answers 429 until the window moves.",
    )
    console_login_per_address: str = Field(
        "20/15 minutes",
        description="Failed console sign-ins allowed per client address (same notation).",
    )
    console_url: str | None = Field(
        None,
        description="The console's address as operators' browsers see it (`https://HOST[:PORT]`): "
        "the origin and relying-party id of security keys (WebAuthn) and the base of the single "
        "sign-on callback. Unset: taken from each request's `Host` (development only; a security "
        "key needs a host name, not an IP address).",
    )
    console_oidc_issuer: str | None = Field(
        None,
        description="OpenID Connect single sign-on: the identity provider's issuer URL (its "
        "`/.well-known/openid-configuration` is read). Unset: no single sign-on.",
    )
    console_oidc_client_id: str | None = Field(
        None, description="OpenID Connect: the console's client id at the identity provider."
    )
    console_oidc_client_secret: SecretStr | None = Field(
        None, description="OpenID Connect: the console's client secret (never printed)."
    )
    console_oidc_login_claim: str = Field(
        "preferred_username",
        description="OpenID Connect: the ID token's claim holding the operator's login. The "
        "operator must exist and be enabled in `vigie operators`; otherwise sign-in is refused.",
    )
    console_oidc_role_claim: str | None = Field(
        None,
        description="OpenID Connect: a claim (a string or a list) that must hold the operator's "
        "role (`dpo`, `security`, `auditor`) for the sign-in to be accepted. Unset: the role "
        "is the one in `vigie operators` alone.",
    )
    console_oidc_label: str = Field(
        "single sign-on", description="OpenID Connect: the name shown on the sign-in button."
    )
    leak_retention_days: int = Field(
        90, ge=1, description="Days before stored leak files and reports are purged."
    )
    leak_upload_max_bytes: int = Field(
        1 << 30,
        ge=1024,
        description="Largest leaked file the console accepts for analysis (413 above). It is "
        "encrypted as it arrives (DATA_DIR/leak-files) and deleted once analysed.",
    )
    retention_delivery_days: int = Field(
        1_825,
        ge=1,
        description="Days a notice delivery record (channel, status, attempts) is kept after its "
        "last attempt: the proof people were told. Default 5 years (docs/retention.md).",
    )
    retention_alert_evidence_days: int = Field(
        365,
        ge=1,
        description="Days an alert not attached to an incident keeps its evidence (ids and "
        "counts); the alert itself stays. Default 1 year (docs/retention.md).",
    )
    retention_jobs_days: int = Field(
        90,
        ge=1,
        description="Days a finished, failed or cancelled background job (with its result) is "
        "kept. Default 90 days, an operational choice (docs/retention.md).",
    )
    retention_public_requests_days: int = Field(
        365,
        ge=1,
        description="Days the public service keeps what it sent to a contact on file: the "
        "self-check messages (their codes verify until then) and the disclosure report links. "
        "Default 1 year (docs/retention.md).",
    )
    retention_audit_days: int = Field(
        1_825,
        ge=1,
        description="Days a disclosure event of the audit trail keeps the people it names; "
        "then it is pruned in place (its leaf, hence every proof, stays). Default 5 years "
        "(docs/retention.md).",
    )
    leak_memory_limit_mb: int = Field(
        4096,
        ge=256,
        description="Peak memory (MB) every process of leak triage keeps within "
        "(`vigie leak analyze`, `vigie leak prepare`, the worker's analyses): DuckDB gets "
        "half of it and spills the rest of its work to disk (see docs/leaks.md).",
    )
    leak_max_line_chars: int = Field(
        1_000_000,
        ge=1_000,
        description="Longest line of a leaked CSV file triage reads; a longer line is cut "
        "out, counted and sampled as rejected, never held whole.",
    )
    leak_match_threshold: float = Field(
        0.99,
        gt=0.5,
        lt=1.0,
        description="Confidence from which a leaked row is linked to a registry person "
        "(see docs/leaks.md).",
    )
    leak_fuzzy_date_cap: int = Field(
        5_000,
        ge=1,
        description="The last fallback of linking compares a row's name with every registry "
        "person born the same day, unless more people than this share that day: such rows "
        "are counted in the report's warnings, not searched (see docs/leaks.md).",
    )
    leak_term_frequency: bool = Field(
        True,
        description="Weigh an agreeing name, family name, birth date or postal code by how "
        "many registry people share the value (a common name less than a rare one, as "
        "Splink's term-frequency adjustments); off, every value of a field weighs the same "
        "(see docs/leaks.md).",
    )
    jobs_poll_seconds: float = Field(
        2.0, gt=0, description="How often an idle worker looks for a queued job."
    )
    jobs_heartbeat_seconds: float = Field(
        10.0, gt=0, description="How often a worker refreshes the heartbeat of its running job."
    )
    jobs_stale_after_seconds: float = Field(
        120.0,
        gt=0,
        description="A running job whose heartbeat is older than this is taken as orphaned "
        "(its worker died): it is queued again, or failed after `jobs_max_attempts`.",
    )
    jobs_max_attempts: int = Field(
        3, ge=1, description="Runs a job gets when its workers keep dying before it is failed."
    )
    secrets_reload_seconds: float = Field(
        2.0,
        ge=0,
        description="How often a running process (`vigie serve`, `vigie worker`) looks whether "
        "`vigie secrets rotate` published new keys, and loads them: no restart needed. "
        "0: never (restart after a rotation).",
    )
    schedule_retention_seconds: float = Field(
        86_400.0,
        ge=0,
        description="How often the workers run `vigie retention run` (the scheduler, "
        "docs/jobs.md). 0: never (run it from cron instead).",
    )
    schedule_siem_push_seconds: float = Field(
        60.0,
        ge=0,
        description="How often the workers push the SIEM sinks (`vigie siem push`) when "
        "VIGIE_SIEM_URL or VIGIE_SIEM_WEBHOOK_URL is set. 0: never.",
    )
    schedule_checkpoints: bool = Field(
        True,
        description="Whether the workers also sign audit checkpoints every "
        "VIGIE_AUDIT_CHECKPOINT_EVERY_SECONDS when due (`vigie serve` does it on a timer; "
        "a host that runs only `vigie worker` needs this).",
    )
    schedule_requirements_seconds: float = Field(
        86_400.0,
        ge=0,
        description="How often the workers run `vigie requirements enforce` (warnings, then "
        "the overdue consequences, once each). 0: never.",
    )
    smtp_host: str = Field("127.0.0.1", description="SMTP server for alert and notice e-mail.")
    smtp_port: int = Field(25, description="SMTP port.")
    smtp_user: str | None = Field(None, description="SMTP user, if the server wants one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    mail_from: str = Field(
        "vigie@controller.example", description="Sender address of alerts and notices."
    )
    alert_email_to: str | None = Field(
        None, description="Where alert e-mails go (the DPO's mailbox). Unset: no alert e-mail."
    )
    alert_webhook_url: str | None = Field(
        None, description="URL that receives each alert as JSON. Unset: no webhook."
    )
    webhook_rotation_overlap_hours: float = Field(
        168.0,
        ge=0,
        description="After `vigie secrets rotate webhook`, how long the previous webhook "
        "secrets stay valid beside the new ones (outgoing bodies carry both signatures, the "
        "old inbound token is still accepted), so receivers can switch without a gap.",
    )
    detection_eval_every_people: int = Field(
        25,
        ge=1,
        description="Run the statistical detectors after this many new distinct people "
        "disclosed to a processor (the bounded detection delay).",
    )
    detection_eval_every_seconds: float = Field(
        60.0,
        gt=0,
        description="…or when their last run for a processor is this old (request time).",
    )
    detection_throttle_minutes: float = Field(
        15.0, gt=0, description="How long a medium-severity alert throttles the key."
    )
    canary_density: float = Field(
        0.003,
        ge=0.0,
        lt=0.5,
        description="Share of canaries `vigie synth` plants in every processor's scope. The "
        "default 0.3% puts a canary in a random 1,000-row sample with >= 95% probability "
        "(1 - (1 - d)^1000 >= 0.95). 0 plants none.",
    )
    controller_name: str = Field(
        "OFII",
        description="The controller's name as people know it, used in notices and packs.",
    )
    controller_legal_name: str = Field(
        "Office français de l'immigration et de l'intégration",
        description="The controller's legal name, for the authority pack.",
    )
    dpo_name: str = Field(
        "Délégué à la protection des données", description="The DPO, as named in packs."
    )
    dpo_email: str = Field(
        "dpo@controller.example", description="The DPO's e-mail: the contact point of notices."
    )
    dpo_phone: str = Field(
        "+33 1 00 00 00 00", description="Phone number of the contact point in notices."
    )
    dpo_address: str = Field(
        "DPO, 1 place de l'Exemple, 75000 Paris",
        description="Postal address of the DPO (authority pack, letters).",
    )
    notice_check_url: str = Field(
        "https://controller.example/verifier",
        description="The official page where a person checks a notice's verification code "
        "(default: PUBLIC_URL/verify when VIGIE_PUBLIC_URL is set).",
    )
    public_url: str | None = Field(
        None,
        description="The public service's address as people reach it through the proxy "
        "(e.g. `https://verifier.controller.example`). When set, the notices' check URL "
        "defaults to PUBLIC_URL/verify.",
    )
    public_max_body_bytes: int = Field(
        4_096, ge=1024, description="Largest request body the public service accepts (413)."
    )
    public_limits_storage: str = Field(
        "memory://",
        description="Where the public service counts requests (a `limits` storage URI, e.g. "
        "`redis://127.0.0.1:6379`). `memory://` counts per worker; with several workers or "
        "hosts use a shared store. If the store does not answer, the service refuses (503).",
    )
    public_rate_per_address: str = Field(
        "20/minute",
        description="Code checks and self-checks one client address may make (each counted "
        "apart), as a `limits` rate string.",
    )
    public_rate_global: str = Field(
        "100/second",
        description="Code checks and self-checks the whole service accepts (each counted "
        "apart), as a `limits` rate string.",
    )
    public_messages_per_contact: str = Field(
        "3/day",
        description="Self-check messages one e-mail address or phone number may receive; "
        "requests past it are dropped silently (the page says the same).",
    )
    public_report_link_minutes: int = Field(
        30,
        ge=1,
        le=24 * 60,
        description='How long the link to a disclosure report ("who saw my file?") works; '
        "it opens once.",
    )
    notice_outbox_dir: Path | None = Field(
        None,
        description="Where the default SMS provider writes its outbox and letters are "
        "written. Default: DATA_DIR/outbox.",
    )

    @model_validator(mode="after")
    def _stale_outlasts_heartbeat(self) -> Settings:
        if self.jobs_stale_after_seconds <= 2 * self.jobs_heartbeat_seconds:
            raise ValueError(
                "VIGIE_JOBS_STALE_AFTER_SECONDS must exceed twice VIGIE_JOBS_HEARTBEAT_SECONDS"
            )
        return self

    @model_validator(mode="after")
    def _metrics_allow_parses(self) -> Settings:
        for cidr in self.metrics_allow:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ValueError(f"VIGIE_METRICS_ALLOW: {cidr!r} is not a network") from exc
        return self

    @model_validator(mode="after")
    def _argon2_memory_fills_its_lanes(self) -> Settings:
        if self.console_password_memory_kib < 8 * self.console_password_parallelism:
            raise ValueError(
                "VIGIE_CONSOLE_PASSWORD_MEMORY_KIB must be at least 8 KiB per lane "
                "(8 x VIGIE_CONSOLE_PASSWORD_PARALLELISM)"
            )
        return self

    @model_validator(mode="after")
    def _head_holds_a_line(self) -> Settings:
        if self.http_max_head_bytes < self.http_max_line_bytes:
            raise ValueError("VIGIE_HTTP_MAX_HEAD_BYTES must be at least VIGIE_HTTP_MAX_LINE_BYTES")
        return self

    @model_validator(mode="after")
    def _check_url_defaults_to_the_public_service(self) -> Settings:
        if self.public_url and "notice_check_url" not in self.model_fields_set:
            self.notice_check_url = self.public_url.rstrip("/") + "/verify"
        return self

    @model_validator(mode="after")
    def _oidc_is_whole(self) -> Settings:
        parts = (self.console_oidc_client_id, self.console_oidc_client_secret)
        if self.console_oidc_issuer and not all(parts):
            raise ValueError(
                "VIGIE_CONSOLE_OIDC_ISSUER needs VIGIE_CONSOLE_OIDC_CLIENT_ID and "
                "VIGIE_CONSOLE_OIDC_CLIENT_SECRET"
            )
        return self

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        if self.smtp_password is not None and (
            self.smtp_password.get_secret_value().lower() in PLACEHOLDERS
        ):
            raise ValueError("VIGIE_SMTP_PASSWORD is a placeholder; set the real password")
        if self.console_oidc_client_secret is not None and (
            self.console_oidc_client_secret.get_secret_value().lower() in PLACEHOLDERS
        ):
            raise ValueError("VIGIE_CONSOLE_OIDC_CLIENT_SECRET is a placeholder; set the real one")
        url = self.database_url or ""
        for placeholder in PLACEHOLDERS:
            if f":{placeholder}@" in url.lower():
                raise ValueError("VIGIE_DATABASE_URL carries a placeholder password")
        if not self.database_url and not self.data_dir.is_absolute():
            raise ValueError("in production set VIGIE_DATA_DIR to an absolute path")
        if self.console_password_time_cost < 2 or self.console_password_memory_kib < 19_456:
            raise ValueError(
                "in production operators' passwords need Argon2id with at least 2 passes "
                "over 19,456 KiB (VIGIE_CONSOLE_PASSWORD_TIME_COST, _MEMORY_KIB)"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to the SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'vigie.db').resolve()}"

    @property
    def resolved_secrets_dir(self) -> Path:
        """Where the instance secrets live."""
        return self.secrets_dir or self.data_dir / "secrets"


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]


class _IsolatedSettings(Settings):
    """Settings that read nothing from the environment: only what they are given."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def isolated_settings(**values: object) -> Settings:
    """Settings from ``values`` and the defaults alone, whatever ``VIGIE_*`` says.

    For an instance that must be its own (``vigie demo``): run from an operator's shell
    whose ``VIGIE_DATABASE_URL`` points at the production registry, it must not write
    there, nor use that shell's secrets directory, outbox, SMTP server or alert targets.
    """
    return _IsolatedSettings(**values)  # type: ignore[arg-type]
