"""The one module that reads the environment.

Every value has a default that works on a fresh machine: the broker at 127.0.0.1:5672 and one
SQLite database per service under ``var/``. PostgreSQL is chosen by URL, either per service
(``ZTC_DB_ENGINE=postgresql://...``) or for all services at once with a ``{service}`` placeholder
(``ZTC_DATABASE_URL=postgresql://127.0.0.1/ztc_{service}``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("engine", "intake", "assignment", "supervision", "evaluation", "gateway")


def normalize_database_url(url: str) -> str:
    """PostgreSQL URLs use psycopg2, the driver psycogreen makes cooperative under eventlet
    (SQLAlchemy would otherwise pick psycopg 3 for a bare ``postgresql://``)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def _env(env: Mapping[str, str], key: str, default: str) -> str:
    value = env.get(key)
    return default if value in (None, "") else value


@dataclass(frozen=True)
class Settings:
    amqp_uri: str
    management_url: str
    var_dir: Path
    bpmn_dir: Path
    database_url_template: str | None
    database_urls: dict[str, str] = field(default_factory=dict)
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    job_max_attempts: int = 5
    job_backoff_seconds: float = 1.0
    job_backoff_max_seconds: float = 300.0
    message_ttl_seconds: float = 7 * 24 * 3600
    workflow_cache_size: int = 1000
    relay_interval_seconds: float = 0.2
    timer_interval_seconds: float = 1.0
    max_workers: int = 10
    # PostgreSQL connections each process keeps open per database, and how many more it may open
    # for a burst (closed again after use); PostgreSQL's max_connections is shared by every process.
    db_pool_size: int = 10
    db_max_overflow: int = 10
    log_level: str = "INFO"
    clock_offset_file: str | None = None
    log_format: str = "text"  # text | json (JSON lines)
    metrics_host: str = "127.0.0.1"
    metrics_port_base: int | None = None  # each service serves /metrics on base + its index
    metrics_ports: dict[str, int] = field(default_factory=dict)
    queue_type: str = "classic"  # classic | quorum: the durable work queues' x-queue-type
    # A consumed message that fails unexpectedly is tried this many times in all, pausing between
    # attempts (doubling from the first pause, at most the last), then dead-lettered with the reason.
    message_max_attempts: int = 5
    message_retry_pause_seconds: float = 1.0
    message_retry_pause_max_seconds: float = 10.0
    message_max_bytes: int = 16 * 1024 * 1024  # a bigger message is dead-lettered unread
    # Diagram scripts and expressions (shared/sandbox.py): the default time limit, the most an
    # element may ask for with its timeLimit property, and the memory limit.
    script_time_limit_seconds: float = 1.0
    script_time_limit_max_seconds: float = 30.0
    script_memory_limit_mb: int = 128
    # The HTTP edge: a request body larger than this is refused (413) before it is read; JSON
    # nested deeper than this is refused (400).
    http_max_body_bytes: int = 1024 * 1024
    http_max_json_depth: int = 32
    # how long a client may take to send its request body before it is refused (408)
    http_body_seconds: float = 10.0
    # The public API's spam limit on residents' cases: at most so many per client address and per
    # venue (contact point) in each window; the client address is the connection's, or with
    # proxy hops set the entry of X-Forwarded-For that many from the right (the trusted proxies).
    public_cases_per_address: int = 5
    public_cases_per_venue: int = 50
    public_cases_window_seconds: int = 3600
    http_trusted_proxy_hops: int = 0
    # API tokens expire: a person's after this many hours, a department system's after the second.
    token_ttl_hours: float = 12.0
    token_system_ttl_hours: float = 90 * 24.0
    # The web console's session cookie carries the Secure flag (sent over HTTPS only) when true:
    # set it wherever the console is served over HTTPS; a laptop's http://127.0.0.1 needs it off.
    console_secure_cookie: bool = False
    # A diagram uploaded in the console's deploy form larger than this is refused on the form (the
    # whole request is still bounded by http_max_body_bytes, refused before it is read).
    console_max_diagram_bytes: int = 512 * 1024
    # Failed console logins are slowed down (429 with Retry-After) in fixed windows: at most so
    # many per account from one client address, and per client address over every account. Only
    # failures count: someone else's failures stop a person's login only through the address limit.
    console_login_failures_per_account: int = 5
    console_login_failures_per_address: int = 20
    console_login_window_seconds: int = 900
    # Who is who on the bus (docs/security.md). Broker users are named from this prefix: the
    # services' ``<prefix><service>``, the operator's ``<prefix>operator``, a unit's
    # ``<prefix>unit-<code>``, a member's or informant's app ``<prefix>member-<user>`` /
    # ``<prefix>informant-<user>`` (shared/messaging/identity.py).
    bus_user_prefix: str = "ztc-"
    # The deployment key that signs principals and jobs (shared/principal.py): ZTC_BUS_KEY, or the
    # file ZTC_BUS_KEY_FILE (default var/bus.key, made with mode 600 when first needed).
    bus_key: str | None = None
    bus_key_file: Path | None = None
    principal_ttl_seconds: float = 300.0  # how long a principal signed for an RPC call is good for
    # How long the gateway waits for a service's RPC reply before it answers 504 (a reply lost with
    # a connection the broker closed would otherwise hold an HTTP worker for ever).
    rpc_timeout_seconds: float = 60.0
    # How long /ready and the operators' services page wait for the services' pings (all at once):
    # a frozen service is named after this, not after a whole RPC timeout.
    ready_timeout_seconds: float = 5.0
    operator_amqp_uri: str | None = None  # the operator's broker user (dead letters, replays, ztc)
    # Who runs a ``ztc`` command, for the records, when the login does not say (a shared or a
    # container account): ZTC_OPERATOR, checked by services/ztc/identity.py; None: the login name.
    ztc_operator: str | None = None
    bus_passwords: dict[str, str] = field(default_factory=dict)  # ZTC_BUS_PASSWORD_<NAME>: make run's users
    bus_users: str = "per-service"  # make run: per-service | shared (every process on ZTC_AMQP_URI)
    # TLS to the broker: an amqps:// URI turns it on; the CA that signed the broker's certificate,
    # and a client certificate where the broker asks for one. The management API (https) takes
    # the same CA.
    amqp_ca_file: str | None = None
    amqp_cert_file: str | None = None
    amqp_key_file: str | None = None
    # Notifications that leave the system (services/gateway/channels.py). Both channels are off
    # until configured: e-mail with ZTC_SMTP_HOST, SMS with ZTC_SMS_GATEWAY_URL.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str = "zhitongche@localhost"
    smtp_security: str = "none"  # none | starttls | ssl
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = 10.0
    sms_gateway_url: str | None = None  # POST {"to", "text", "message_id"} (docs/notifications.md)
    sms_gateway_token: str | None = None  # sent as "Authorization: Bearer <token>" when set
    sms_timeout_seconds: float = 10.0
    # A delivery that fails is tried again after a pause doubling from the first to at most the
    # second; after notify_max_attempts attempts it is marked failed for operators to retry.
    notify_max_attempts: int = 12
    notify_retry_pause_seconds: float = 30.0
    notify_retry_pause_max_seconds: float = 3600.0
    notify_digest_hour: int = 8  # China time: when the daily digests go out

    def metrics_port(self, service: str) -> int | None:
        """Where ``service`` serves /metrics: ``ZTC_METRICS_PORT_<SERVICE>``, else
        ``ZTC_METRICS_PORT_BASE`` + its place in SERVICES; None (no metrics server) if neither is set."""
        if service in self.metrics_ports:
            return self.metrics_ports[service]
        if self.metrics_port_base is not None and service in SERVICES:
            return self.metrics_port_base + SERVICES.index(service)
        return None

    def database_url(self, service: str) -> str:
        if service in self.database_urls:
            return normalize_database_url(self.database_urls[service])
        if self.database_url_template:
            return normalize_database_url(self.database_url_template.replace("{service}", service))
        return f"sqlite:///{self.var_dir / (service + '.db')}"

    def amqp_ssl(self, amqp_uri: str | None = None) -> dict[str, object] | None:
        """kombu's ``ssl`` option for ``amqp_uri`` (default ZTC_AMQP_URI): None for ``amqp://``;
        for ``amqps://`` the CA (and client certificate) files, the broker's certificate checked."""
        return amqp_ssl(amqp_uri or self.amqp_uri, self)

    def nameko_config(self, **extra: object) -> dict[str, object]:
        cfg: dict[str, object] = {
            "AMQP_URI": self.amqp_uri,
            "WEB_SERVER_ADDRESS": f"{self.gateway_host}:{self.gateway_port}",
            "max_workers": self.max_workers,
            "serializer": "json",
            "ZTC_SETTINGS": self,
        }
        cfg.update(extra)
        ssl = amqp_ssl(self.amqp_uri, self)
        if ssl:
            cfg["AMQP_SSL"] = ssl
        return cfg


def amqp_ssl(amqp_uri: str, settings: Settings | None = None) -> dict[str, object] | None:
    """kombu's ``ssl`` connection option for ``amqp_uri``: None unless it is ``amqps://``; then
    the certificate is checked against ``ZTC_AMQP_CA_FILE`` (the system's CAs without one)."""
    if not (amqp_uri or "").startswith("amqps://"):
        return None
    import ssl as _ssl

    settings = settings or load()
    options: dict[str, object] = {"cert_reqs": _ssl.CERT_REQUIRED}
    if settings.amqp_ca_file:
        options["ca_certs"] = settings.amqp_ca_file
    if settings.amqp_cert_file:
        options["certfile"] = settings.amqp_cert_file
    if settings.amqp_key_file:
        options["keyfile"] = settings.amqp_key_file
    return options


QUEUE_TYPES = ("classic", "quorum")
BUS_USER_MODES = ("per-service", "shared")
# The broker users make run creates besides the services' (shared/messaging/access.py).
OPERATOR = "operator"


def _bus_users(value: str) -> str:
    if value not in BUS_USER_MODES:
        raise ValueError(f"ZTC_BUS_USERS must be one of {', '.join(BUS_USER_MODES)}, not {value!r}")
    return value


def _queue_type(value: str) -> str:
    """``ZTC_QUEUE_TYPE``: quorum on a RabbitMQ cluster (``deploy/rabbitmq/definitions.json``),
    classic on one broker. Every process must say the same: a queue declared with another type
    than the broker has is refused (PRECONDITION_FAILED)."""
    if value not in QUEUE_TYPES:
        raise ValueError(f"ZTC_QUEUE_TYPE must be one of {', '.join(QUEUE_TYPES)}, not {value!r}")
    return value


SMTP_SECURITY = ("none", "starttls", "ssl")


def _choice(key: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{key} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _hour(value: str) -> int:
    hour = int(value)
    if not 0 <= hour <= 23:
        raise ValueError(f"ZTC_NOTIFY_DIGEST_HOUR must be an hour from 0 to 23, not {value!r}")
    return hour


def load(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    var_dir = Path(_env(env, "ZTC_VAR_DIR", str(ROOT / "var")))
    urls = {}
    for service in SERVICES:
        url = env.get(f"ZTC_DB_{service.upper()}")
        if url:
            urls[service] = url
    return Settings(
        amqp_uri=_env(env, "ZTC_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"),
        management_url=_env(env, "ZTC_RABBIT_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672"),
        var_dir=var_dir,
        bpmn_dir=Path(_env(env, "ZTC_BPMN_DIR", str(ROOT / "bpmn"))),
        database_url_template=env.get("ZTC_DATABASE_URL") or None,
        database_urls=urls,
        gateway_host=_env(env, "ZTC_GATEWAY_HOST", "127.0.0.1"),
        gateway_port=int(_env(env, "ZTC_GATEWAY_PORT", "8080")),
        job_max_attempts=int(_env(env, "ZTC_JOB_MAX_ATTEMPTS", "5")),
        job_backoff_seconds=float(_env(env, "ZTC_JOB_BACKOFF_SECONDS", "1.0")),
        job_backoff_max_seconds=float(_env(env, "ZTC_JOB_BACKOFF_MAX_SECONDS", "300")),
        message_ttl_seconds=float(_env(env, "ZTC_MESSAGE_TTL_SECONDS", str(7 * 24 * 3600))),
        workflow_cache_size=int(_env(env, "ZTC_WORKFLOW_CACHE_SIZE", "1000")),
        relay_interval_seconds=float(_env(env, "ZTC_RELAY_INTERVAL_SECONDS", "1.0")),
        db_pool_size=int(_env(env, "ZTC_DB_POOL_SIZE", "10")),
        db_max_overflow=int(_env(env, "ZTC_DB_MAX_OVERFLOW", "10")),
        timer_interval_seconds=float(_env(env, "ZTC_TIMER_INTERVAL_SECONDS", "1.0")),
        max_workers=int(_env(env, "ZTC_MAX_WORKERS", "10")),
        log_level=_env(env, "ZTC_LOG_LEVEL", "INFO"),
        clock_offset_file=env.get("ZTC_CLOCK_OFFSET_FILE") or None,
        log_format=_env(env, "ZTC_LOG_FORMAT", "text"),
        metrics_host=_env(env, "ZTC_METRICS_HOST", "127.0.0.1"),
        metrics_port_base=int(env["ZTC_METRICS_PORT_BASE"]) if env.get("ZTC_METRICS_PORT_BASE") else None,
        metrics_ports={
            s: int(env[f"ZTC_METRICS_PORT_{s.upper()}"]) for s in SERVICES if env.get(f"ZTC_METRICS_PORT_{s.upper()}")
        },
        queue_type=_queue_type(_env(env, "ZTC_QUEUE_TYPE", "classic")),
        message_max_attempts=max(1, int(_env(env, "ZTC_MESSAGE_MAX_ATTEMPTS", "5"))),
        message_retry_pause_seconds=float(_env(env, "ZTC_MESSAGE_RETRY_PAUSE_SECONDS", "1.0")),
        message_retry_pause_max_seconds=float(_env(env, "ZTC_MESSAGE_RETRY_PAUSE_MAX_SECONDS", "10")),
        message_max_bytes=int(_env(env, "ZTC_MESSAGE_MAX_BYTES", str(16 * 1024 * 1024))),
        script_time_limit_seconds=float(_env(env, "ZTC_SCRIPT_TIME_LIMIT_SECONDS", "1.0")),
        script_time_limit_max_seconds=float(_env(env, "ZTC_SCRIPT_TIME_LIMIT_MAX_SECONDS", "30")),
        script_memory_limit_mb=int(_env(env, "ZTC_SCRIPT_MEMORY_LIMIT_MB", "128")),
        http_max_body_bytes=max(1, int(_env(env, "ZTC_HTTP_MAX_BODY_BYTES", str(1024 * 1024)))),
        http_max_json_depth=max(2, int(_env(env, "ZTC_HTTP_MAX_JSON_DEPTH", "32"))),
        http_body_seconds=max(0.1, float(_env(env, "ZTC_HTTP_BODY_SECONDS", "10"))),
        public_cases_per_address=max(1, int(_env(env, "ZTC_PUBLIC_CASES_PER_ADDRESS", "5"))),
        public_cases_per_venue=max(1, int(_env(env, "ZTC_PUBLIC_CASES_PER_VENUE", "50"))),
        public_cases_window_seconds=max(1, int(_env(env, "ZTC_PUBLIC_CASES_WINDOW_SECONDS", "3600"))),
        http_trusted_proxy_hops=max(0, int(_env(env, "ZTC_HTTP_TRUSTED_PROXY_HOPS", "0"))),
        token_ttl_hours=float(_env(env, "ZTC_TOKEN_TTL_HOURS", "12")),
        token_system_ttl_hours=float(_env(env, "ZTC_TOKEN_SYSTEM_TTL_HOURS", str(90 * 24))),
        console_secure_cookie=_env(env, "ZTC_CONSOLE_SECURE_COOKIE", "false").lower() in ("1", "true", "yes"),
        console_max_diagram_bytes=max(1, int(_env(env, "ZTC_CONSOLE_MAX_DIAGRAM_BYTES", str(512 * 1024)))),
        console_login_failures_per_account=max(1, int(_env(env, "ZTC_CONSOLE_LOGIN_FAILURES_PER_ACCOUNT", "5"))),
        console_login_failures_per_address=max(1, int(_env(env, "ZTC_CONSOLE_LOGIN_FAILURES_PER_ADDRESS", "20"))),
        console_login_window_seconds=max(1, int(_env(env, "ZTC_CONSOLE_LOGIN_WINDOW_SECONDS", "900"))),
        bus_user_prefix=_env(env, "ZTC_BUS_USER_PREFIX", "ztc-"),
        bus_key=env.get("ZTC_BUS_KEY") or None,
        bus_key_file=Path(_env(env, "ZTC_BUS_KEY_FILE", str(var_dir / "bus.key"))),
        principal_ttl_seconds=float(_env(env, "ZTC_PRINCIPAL_TTL_SECONDS", "300")),
        rpc_timeout_seconds=max(0.1, float(_env(env, "ZTC_RPC_TIMEOUT_SECONDS", "60"))),
        ready_timeout_seconds=max(0.1, float(_env(env, "ZTC_READY_TIMEOUT_SECONDS", "5"))),
        operator_amqp_uri=env.get("ZTC_OPERATOR_AMQP_URI") or None,
        ztc_operator=env.get("ZTC_OPERATOR"),
        bus_passwords={
            name: env[f"ZTC_BUS_PASSWORD_{name.upper()}"]
            for name in (*SERVICES, OPERATOR)
            if env.get(f"ZTC_BUS_PASSWORD_{name.upper()}")
        },
        bus_users=_bus_users(_env(env, "ZTC_BUS_USERS", "per-service")),
        amqp_ca_file=env.get("ZTC_AMQP_CA_FILE") or None,
        amqp_cert_file=env.get("ZTC_AMQP_CERT_FILE") or None,
        amqp_key_file=env.get("ZTC_AMQP_KEY_FILE") or None,
        smtp_host=env.get("ZTC_SMTP_HOST") or None,
        smtp_port=int(_env(env, "ZTC_SMTP_PORT", "25")),
        smtp_sender=_env(env, "ZTC_SMTP_SENDER", "zhitongche@localhost"),
        smtp_security=_choice("ZTC_SMTP_SECURITY", _env(env, "ZTC_SMTP_SECURITY", "none"), SMTP_SECURITY),
        smtp_user=env.get("ZTC_SMTP_USER") or None,
        smtp_password=env.get("ZTC_SMTP_PASSWORD") or None,
        smtp_timeout_seconds=float(_env(env, "ZTC_SMTP_TIMEOUT_SECONDS", "10")),
        sms_gateway_url=env.get("ZTC_SMS_GATEWAY_URL") or None,
        sms_gateway_token=env.get("ZTC_SMS_GATEWAY_TOKEN") or None,
        sms_timeout_seconds=float(_env(env, "ZTC_SMS_TIMEOUT_SECONDS", "10")),
        notify_max_attempts=max(1, int(_env(env, "ZTC_NOTIFY_MAX_ATTEMPTS", "12"))),
        notify_retry_pause_seconds=float(_env(env, "ZTC_NOTIFY_RETRY_PAUSE_SECONDS", "30")),
        notify_retry_pause_max_seconds=float(_env(env, "ZTC_NOTIFY_RETRY_PAUSE_MAX_SECONDS", "3600")),
        notify_digest_hour=_hour(_env(env, "ZTC_NOTIFY_DIGEST_HOUR", "8")),
    )
