"""The one settings module: everything an operator may change comes from the environment.

Each variable is read through a small helper that fails loudly (ImproperlyConfigured) on a
value it cannot understand, so a typo never silently falls back to a default.
"""

import os
import re
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*([smhd])\s*$")


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0/true/false/yes/no/on/off, not {raw!r}.")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_rate(name: str, default: str) -> str:
    """A rate limit as 'N/s|m|h|d', e.g. '10/h'; N must be at least 1."""
    raw = os.environ.get(name, default)
    match = _RATE.match(raw)
    if not match or int(match.group(1)) < 1:
        raise ImproperlyConfigured(
            f"{name} must look like '10/m' (a positive count, '/', and one of s, m, h, d), "
            f"not {raw!r}."
        )
    return f"{int(match.group(1))}/{match.group(2)}"


def env_port(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if not raw.strip().isdigit() or not 1 <= int(raw) <= 65535:
        raise ImproperlyConfigured(f"{name} must be a TCP port between 1 and 65535, not {raw!r}.")
    return int(raw)


DEBUG = env_bool("DEBUG")
HTTPS = env_bool("HTTPS")
PORT = env_port("PORT", 8000)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`)."
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
for _origin in CSRF_TRUSTED_ORIGINS:
    if not re.match(r"^https?://[^/\s]+\Z", _origin):
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS entries must be origins like https://example.com, "
            f"not {_origin!r}."
        )

INSTALLED_APPS = [
    "tracking.apps.BackOfficeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "anymail",
    "tracking.apps.TrackingConfig",
]

MIDDLEWARE = [
    "tracking.api.caching.PrivateApiAnswersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "tracking.pages.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise, so static files keep the .br/.gz made at collectstatic time; pages
    # are gzipped with Django's BREACH padding (tests/pages/test_compression.py).
    "tracking.pages.middleware.PageGZipMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "tracking.pages.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "tracking.pages.icons.icon_sprite",
            ],
        },
    },
]

# Databases: SQLite in the project folder unless DATABASE_URL says otherwise.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=600,
        conn_health_checks=True,
    )
}
_db = DATABASES["default"]
if os.environ.get("TEST_DATABASE_NAME"):
    # Lets two test runs share one PostgreSQL server without dropping each other's database.
    _db["TEST"] = {"NAME": os.environ["TEST_DATABASE_NAME"]}
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # Django's backend, remembering how it rewrote each statement (tracking/db/sqlite3/).
    _db["ENGINE"] = "tracking.db.sqlite3"
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN so
    # two writers queue on busy_timeout instead of failing with "database is locked" on upgrade.
    # A 1,000-event batch writes about 1,150 pages (its events' identities land all over their
    # index), more than the default checkpoint every 1,000: at 10,000 (40 MB of log) a page
    # written by several batches is copied back once, and a carrier's backlog goes in about
    # a fifth faster (bench/ingest_bench.py, one client and one package).
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000; "
            "PRAGMA wal_autocheckpoint=10000;"
        ),
    }
elif _db["ENGINE"] == "django.db.backends.postgresql":
    # A dead database must turn into a quick 503, not a worker stuck for the OS timeout.
    _db.setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
    # One persistent connection per worker thread, without Django's per-request health check
    # (a "SELECT 1" round trip before every request's first query). A connection that broke
    # (the server restarted) fails its request with a 503 and is closed at the end of it; the
    # next request connects afresh, so service resumes as soon as the server is back.
    _db["CONN_MAX_AGE"] = 600
    _db["CONN_HEALTH_CHECKS"] = False
    # The hot queries are the same every time (tracking.db.prepared); planning the timeline's
    # joins costs PostgreSQL ten times what running them does, so let psycopg prepare a
    # statement on its connection after it has run a few times. (Behind PgBouncer in
    # transaction mode this must be off: set PGBOUNCER=1.)
    if not env_bool("PGBOUNCER"):
        _db["OPTIONS"]["server_side_binding"] = True
        _db["OPTIONS"]["prepare_threshold"] = 3
else:
    raise ImproperlyConfigured(
        f"DATABASE_URL must point at SQLite or PostgreSQL, not {_db['ENGINE']!r}."
    )

# The customer pages remember timeline heads, and the APIs their keys, per process: on
# PostgreSQL until the database announces a change, on SQLite while the database has not
# changed at all (tracking/db/changes.py). Announcements need LISTEN on a direct connection,
# which PgBouncer's transaction mode does not pass on; TIMELINE_MEMO=0 turns it off.
TIMELINE_MEMO = not (
    _db["ENGINE"] == "django.db.backends.postgresql" and env_bool("PGBOUNCER")
) and env_bool("TIMELINE_MEMO", default=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
# Rendered pages and API bodies are kept per process: each is filed under its consignment's
# version, so a copy can never be stale, and reading it from local memory beats fetching it.
_BODIES = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "bodies",
    "OPTIONS": {"MAX_ENTRIES": 500},
}
if REDIS_URL:
    if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured("REDIS_URL must start with redis://, rediss:// or unix://.")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "tracking",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        },
        "bodies": _BODIES,
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "bodies": _BODIES,
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("fr", "Français"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # whitenoise's CompressedManifestStaticFilesStorage, compressing each content once.
    "staticfiles": {
        "BACKEND": "tracking.pages.staticfiles.CompressedOnceManifestStaticFilesStorage"
    },
}
# A file missing from the manifest (collectstatic not yet run) is served under its plain name
# rather than failing the page with a 500.
WHITENOISE_MANIFEST_STRICT = False

# Rate limits, as 'N/s|m|h|d'.
RATE_LIMIT_LOOKUP = env_rate("RATE_LIMIT_LOOKUP", "60/m")
RATE_LIMIT_POSTCODE = env_rate("RATE_LIMIT_POSTCODE", "10/h")
RATE_LIMIT_API = env_rate("RATE_LIMIT_API", "600/m")
# "Email me updates" (design section 7.4): sign-ups per client address and per consignment,
# confirmation emails per address.
RATE_LIMIT_NOTIFY_CLIENT = env_rate("RATE_LIMIT_NOTIFY_CLIENT", "5/h")
RATE_LIMIT_NOTIFY_CONSIGNMENT = env_rate("RATE_LIMIT_NOTIFY_CONSIGNMENT", "3/d")
RATE_LIMIT_NOTIFY_CONFIRM = env_rate("RATE_LIMIT_NOTIFY_CONFIRM", "3/d")

# Secure headers. X-Frame-Options and frame-ancestors refuse framing everywhere; the embed
# view replaces frame-ancestors with the brand's own origins.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Permissions-Policy, sent by tracking.pages.middleware: nothing here uses a powerful browser
# feature, so none is allowed, to us or to anything we might frame. The OWASP Secure Headers
# Project's list, plus browsing-topics (interest-cohort's successor) and less web-share, which
# Chromium reports on every page as an unrecognised feature.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "clipboard-read",
        "clipboard-write",
        "cross-origin-isolated",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "gamepad",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "interest-cohort",
        "keyboard-map",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "unload",
        "usb",
        "xr-spatial-tracking",
    )
} | {"sync-xhr": ["self"]}
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Django's own CSRF check guards the back office; a refusal gets a friendly page. (The public
# forms use a signed token and an Origin check instead: see tracking/pages/verification.py.)
CSRF_FAILURE_VIEW = "tracking.pages.views.csrf_failure"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "https:"],
        "connect-src": [SELF],
        "form-action": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    }
}
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # /healthz is probed by load balancers over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Tracking portal API",
    "DESCRIPTION": (
        "Two wire-compatible tracking APIs over the same data: the Consignly-style API under "
        "`/v1` (`Authorization: Bearer <client key>`) and the Sorted PRO-style API under "
        "`/tracking` (`ocp-apim-subscription-key: <key>`). Keys are issued with "
        "`python manage.py createapikey` or in the back office."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"tracking": {"level": "INFO"}},
}

# -- Background work (design section 7.2): Django's Tasks API ------------------------------
# The database backend by default (`manage.py db_worker`); TASKS_BACKEND=rq puts the queue on
# Redis for several hosts (`manage.py rqworker --job-class django_tasks_rq.Job --with-scheduler`).
# Either way the rows of pending work are the truth and the queue only wakes workers.
TASKS_BACKEND = os.environ.get("TASKS_BACKEND", "database")
if REDIS_URL:
    INSTALLED_APPS += ["django_rq"]
    RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600}}
if TASKS_BACKEND == "rq":
    if not REDIS_URL:
        raise ImproperlyConfigured("TASKS_BACKEND=rq needs REDIS_URL.")
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
elif TASKS_BACKEND == "database":
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
else:
    raise ImproperlyConfigured("TASKS_BACKEND must be database or rq.")

# -- Outbound webhooks (design section 7.3) --------------------------------------------------
# 1 lets subscriptions reach loopback and private addresses: development and tests only.
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE")
WEBHOOK_RETENTION_DAYS = int(os.environ.get("WEBHOOK_RETENTION_DAYS", "30"))
if WEBHOOK_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("WEBHOOK_RETENTION_DAYS must be at least 1.")

# -- Email (design section 7.4) --------------------------------------------------------------
# SMTP when EMAIL_HOST is set; a provider through django-anymail with EMAIL_BACKEND and its
# ANYMAIL_* settings; otherwise emails are written to the console.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = env_port("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Tracking portal <noreply@localhost>")
# Changes within this many seconds of the first make one email.
NOTIFY_COALESCE = int(os.environ.get("NOTIFY_COALESCE", "600"))
EMAIL_RETENTION_DAYS = int(os.environ.get("EMAIL_RETENTION_DAYS", "30"))
# The portal's public origin, for links built outside a request (emails).
PUBLIC_URL = os.environ.get("PUBLIC_URL", f"http://127.0.0.1:{env_port('PORT', 8000)}").rstrip("/")
if not re.fullmatch(r"https?://[^/\s]+", PUBLIC_URL):
    raise ImproperlyConfigured("PUBLIC_URL must be an origin like https://track.example.com.")
# A provider's settings, from ANYMAIL_<NAME> variables (ANYMAIL_POSTMARK_SERVER_TOKEN=...); with
# ANYMAIL_WEBHOOK_SECRET set, the provider's tracking webhooks are served under /anymail/ and
# its bounces and complaints suppress the address.
ANYMAIL = {
    name.removeprefix("ANYMAIL_"): value
    for name, value in os.environ.items()
    if name.startswith("ANYMAIL_") and value
}
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
