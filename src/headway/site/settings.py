"""Headway's settings, all from the environment (see docs/operations.md).

HEADWAY_MODE is `local` (the default for the command line: a generated secret key,
localhost only), `demo`, `test`, or `production` (what `headway serve` and the WSGI
application run as: a real SECRET_KEY is required, HTTPS settings on).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from headway.lib.secrets import strong_secret
from headway.site.env import env_bool, env_int, env_list, env_str

PACKAGE_DIR = Path(__file__).resolve().parent.parent
# pytest sets PYTEST_VERSION for the whole session: tests always run in test mode.
MODE = env_str("HEADWAY_MODE", "test" if "PYTEST_VERSION" in os.environ else "local")
if MODE not in {"local", "demo", "test", "production"}:
    raise ImproperlyConfigured(f"HEADWAY_MODE={MODE!r}: use local, demo, test or production")
_default_data_dir = (
    tempfile.mkdtemp(prefix="headway-test-") if MODE == "test" else str(Path.cwd() / ".headway")
)
DATA_DIR = Path(env_str("HEADWAY_DATA_DIR", _default_data_dir)).resolve()

SECRET_KEY = env_str("SECRET_KEY")
if MODE == "production" and not strong_secret(SECRET_KEY):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random string of at least 50 characters in production "
        "(python -c 'import secrets; print(secrets.token_urlsafe(64))')"
    )
if not SECRET_KEY:
    # Local, demo and test runs keep a random key of their own in their data folder, so
    # sessions survive a restart and no two installations share a key.
    import secrets

    key_file = DATA_DIR / "secret_key"
    try:
        SECRET_KEY = key_file.read_text(encoding="ascii").strip()
    except OSError:
        SECRET_KEY = secrets.token_urlsafe(64)
        try:
            DATA_DIR.mkdir(parents=True, exist_ok=True)
            key_file.write_text(SECRET_KEY, encoding="ascii")
            key_file.chmod(0o600)
        except OSError:
            pass

DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if MODE != "production" else ""
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "headway.accounts",
    "headway.audit",
    "headway.changes",
    "headway.notifications",
    "headway.jobs",
    "headway.goals",
    "headway.kpis",
    "headway.ingestion",
    "headway.results",
    "headway.reviews",
    "headway.participation",
    "headway.reports",
    "headway.web",
    "headway.api",
    # Only for its static files (the API docs page's Swagger UI), served by WhiteNoise.
    "ninja",
]

MIDDLEWARE = [
    # Each request reads the generations of the data at most once (headway.changes).
    "headway.changes.generations.GenerationMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CSRF, which reads the body: stops an oversized upload while it streams in.
    "headway.ingestion.uploads.UploadLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, with the signed-in person kept between requests (headway.accounts.cached_auth).
    "headway.accounts.cached_auth.CachedAuthenticationMiddleware",
    # After authentication (it names the person), around the views, the API and the CSRF
    # check: every refusal (403) and the request's other security events are logged.
    "headway.accounts.security.SecurityLogMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "headway.site.urls"
WSGI_APPLICATION = "headway.site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "headway.web.context.organization",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'headway.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if MODE == "test" and DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    # A test database of this run's own, so that runs sharing a server never collide.
    DATABASES["default"]["TEST"] = {"NAME": f"test_headway_{os.getpid()}"}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000;",
        "transaction_mode": "IMMEDIATE",
    }

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in throttling (headway.accounts.throttle): after this many failed attempts for one
# account from one address within the window, that pair is refused until the window has
# passed. Behind reverse proxies, HEADWAY_PROXY_COUNT says how many append themselves to
# X-Forwarded-For, so that the browser's address is known (0: use the connection's).
HEADWAY_LOGIN_MAX_FAILURES = env_int("HEADWAY_LOGIN_MAX_FAILURES", 5)
HEADWAY_LOGIN_WINDOW_SECONDS = env_int("HEADWAY_LOGIN_WINDOW_SECONDS", 15 * 60)
HEADWAY_PROXY_COUNT = env_int("HEADWAY_PROXY_COUNT", 0)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hant", _("Traditional Chinese"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if MODE == "production"
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = MODE != "production"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# A push of rows to the API may carry up to 10 MB of JSON (HEADWAY_PUSH_MAX_BYTES); the
# API answers a larger one itself, so Django's own limit sits just above it.
DATA_UPLOAD_MAX_MEMORY_SIZE = 11 * 1024 * 1024

EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "headway@localhost")
if MODE == "demo":
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# A week, not Django's two: a forgotten session on a shared computer ends sooner.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 7 * 24 * 60 * 60)
CSRF_COOKIE_SAMESITE = "Lax"
# No script reads the CSRF cookie: pages carry the token in the HTML.
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if MODE == "production":
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # The __Host- prefix: the browser keeps these cookies only if they come over HTTPS for
    # this very host, so a neighbouring subdomain cannot plant or overwrite them.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# The cache of charts, analyses and rendered parts of pages (see docs/operations.md).
# Entries are keyed by the data they were made from, so a change never shows a stale
# one: local memory (per process) serves one machine; `database` shares one table among
# all web processes (create it once with `headway manage createcachetable`); a
# `redis://` URL needs the `redis` package. Tests run without a cache unless they ask.
HEADWAY_CACHE = env_str("HEADWAY_CACHE", "none" if MODE == "test" else "memory")
_CACHE_TIMEOUT = env_int("HEADWAY_CACHE_SECONDS", 24 * 60 * 60)
if HEADWAY_CACHE == "memory":
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "TIMEOUT": _CACHE_TIMEOUT,
            "OPTIONS": {"MAX_ENTRIES": env_int("HEADWAY_CACHE_ENTRIES", 5000)},
        }
    }
elif HEADWAY_CACHE == "database":
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "headway_cache",
            "TIMEOUT": _CACHE_TIMEOUT,
            "OPTIONS": {"MAX_ENTRIES": env_int("HEADWAY_CACHE_ENTRIES", 5000)},
        }
    }
elif HEADWAY_CACHE.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": HEADWAY_CACHE,
            "TIMEOUT": _CACHE_TIMEOUT,
        }
    }
elif HEADWAY_CACHE == "none":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
else:
    raise ImproperlyConfigured(
        f"HEADWAY_CACHE={HEADWAY_CACHE!r}: use memory, database, none or a redis:// URL"
    )

# Every committed write moves a generation (headway.changes.generations); sessions, people
# and whole pages are kept under it (docs/operations.md, "Caching"). Tests turn these on
# where they test them: elsewhere a query count would include the generations' query.
HEADWAY_TRACK_CHANGES = env_bool("HEADWAY_TRACK_CHANGES", MODE != "test")
HEADWAY_PAGE_CACHE = env_bool("HEADWAY_PAGE_CACHE", HEADWAY_CACHE != "none")
HEADWAY_PAGE_CACHE_BYTES = env_int("HEADWAY_PAGE_CACHE_MB", 64) * 1024 * 1024
SESSION_ENGINE = "headway.accounts.cached_auth"

# Where the warehouse data of datasets lives until ingestion (files of an applied
# workspace are copied here).
HEADWAY_WAREHOUSE_DIR = DATA_DIR / "warehouse"
# Where the engine's scans run (docs/warehouse.md): empty for the embedded DuckDB, or
# postgresql://...?schema=NAME, spark://local[2], spark://HOST:7077, sc://HOST:15002.
HEADWAY_WAREHOUSE_URL = env_str("HEADWAY_WAREHOUSE_URL", "")

# The largest file the web pages and the API take (uploads stop as they pass it);
# `headway import` takes files up to HEADWAY_IMPORT_MAX_BYTES (1 GiB by default).
HEADWAY_UPLOAD_MAX_BYTES = env_int("HEADWAY_UPLOAD_MAX_BYTES", 100 * 1024 * 1024)

# The most memory one import's DuckDB may use before it spills to DATA_DIR/tmp/imports
# (DuckDB's units: 2GB, 512MB...).
HEADWAY_IMPORT_MEMORY_LIMIT = env_str("HEADWAY_IMPORT_MEMORY_LIMIT", "2GB")
# Where review agendas find items besides the KPIs' own data (dotted paths of functions
# taking a meeting): employees' proposals under review or accepted but not applied.
HEADWAY_AGENDA_SOURCES = ["headway.participation.agenda.proposal_agenda_entries"]
# The address people reach Headway at, for links in e-mails (empty: mails carry no links).
HEADWAY_SITE_URL = env_str("HEADWAY_SITE_URL", "")

# Sources: Fernet keys that encrypt their credentials at rest, newest first (older keys
# still decrypt, so keys can rotate). Required in production; elsewhere a key of the
# installation's own is kept in DATA_DIR/credentials_key.
HEADWAY_CREDENTIALS_KEYS = env_list("HEADWAY_CREDENTIALS_KEYS")
# Hosts and networks (CIDR) that connectors may reach although they are not public: an
# on-premise CRM or database. Nothing internal is reachable by default.
HEADWAY_HTTP_ALLOW = env_list("HEADWAY_HTTP_ALLOW")
HEADWAY_HTTP_TIMEOUT_SECONDS = env_int("HEADWAY_HTTP_TIMEOUT_SECONDS", 60)
# The most rows one sync may bring, and how long one SQL statement may run.
HEADWAY_SYNC_MAX_ROWS = env_int("HEADWAY_SYNC_MAX_ROWS", 1_000_000)
HEADWAY_SQL_TIMEOUT_SECONDS = env_int("HEADWAY_SQL_TIMEOUT_SECONDS", 300)

# The security log (headway.lib.security_log): one line per sign-in, refusal or change of
# rights, at INFO whatever LOG_LEVEL says, on the console with Headway's other messages and
# also appended, with the time, to the file HEADWAY_SECURITY_LOG if it is set.
HEADWAY_SECURITY_LOG = env_str("HEADWAY_SECURITY_LOG")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"timed": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "headway": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
        "headway.security": {"handlers": [], "level": "INFO"},
        "django.security": {"handlers": ["console"], "level": "INFO"},
    },
}
if HEADWAY_SECURITY_LOG:
    LOGGING["handlers"]["security_file"] = {
        "class": "logging.handlers.WatchedFileHandler",
        "filename": HEADWAY_SECURITY_LOG,
        "formatter": "timed",
    }
    LOGGING["loggers"]["headway.security"]["handlers"].append("security_file")
