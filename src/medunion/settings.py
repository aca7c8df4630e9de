"""Django settings. Everything comes from the environment; see docs/configuration.md.

The server refuses to start outside debug mode with the development secret key or
encryption keys (``medunion.core.checks``).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


# Development defaults. Outside DEBUG the checks in medunion.core.checks refuse them.
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105
# 32-byte AES keys, base64; "kid:key" entries, the first encrypts, all decrypt.
DEV_ENCRYPTION_KEYS = "dev1:ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM="
DEV_LOOKUP_KEY = "ZGV2LW9ubHktbG9va3VwLWhtYWMta2V5LTMyLWJ5dGVzIQ=="

DEBUG = env_bool("MEDUNION_DEBUG", False)
SECRET_KEY = env("MEDUNION_SECRET_KEY", DEV_SECRET_KEY)
MEDUNION_ENCRYPTION_KEYS = env("MEDUNION_ENCRYPTION_KEYS", DEV_ENCRYPTION_KEYS)
MEDUNION_LOOKUP_KEY = env("MEDUNION_LOOKUP_KEY", DEV_LOOKUP_KEY)
# The demo consortium relaxes the second-factor requirement for coordinators and
# administrators, and says so on every page.
MEDUNION_DEMO = env_bool("MEDUNION_DEMO", False)
MEDUNION_REQUIRE_MFA = env_bool("MEDUNION_REQUIRE_MFA", not MEDUNION_DEMO)
MEDUNION_BREAK_GLASS_MINUTES = env_int("MEDUNION_BREAK_GLASS_MINUTES", 60)
MEDUNION_API_TOKEN_HOURS = env_int("MEDUNION_API_TOKEN_HOURS", 12)
MEDUNION_IDEMPOTENCY_HOURS = env_int("MEDUNION_IDEMPOTENCY_HOURS", 24)
MEDUNION_IMPORT_MAX_ROWS = env_int("MEDUNION_IMPORT_MAX_ROWS", 20_000)
# Page imports run in a background thread; tests may run them at once.
MEDUNION_IMPORT_SYNC = env_bool("MEDUNION_IMPORT_SYNC", False)
MEDUNION_DATA_DIR = Path(env("MEDUNION_DATA_DIR", str(Path.cwd() / "var")))
# Notifications: dotted paths of sender classes (medunion.notifications.senders), comma-separated.
MEDUNION_NOTIFY_SENDERS = [s.strip() for s in env("MEDUNION_NOTIFY_SENDERS",
                                                  "medunion.notifications.senders.ConsoleSender").split(",")
                           if s.strip()]
# At most this many clinicians are notified of one new pool or team case.
MEDUNION_NOTIFY_FANOUT = env_int("MEDUNION_NOTIFY_FANOUT", 200)
# The background worker (escalation of overdue consultations): seconds between rounds.
MEDUNION_WORKER_INTERVAL = env_int("MEDUNION_WORKER_INTERVAL", 30)
# Expired idempotency keys and sessions, orphaned stored bytes (ops.housekeeping); 0: never.
MEDUNION_HOUSEKEEPING_HOURS = env_int("MEDUNION_HOUSEKEEPING_HOURS", 6)
# A consultation's specialists stay in the patient's care team this long after it closes.
MEDUNION_CONSULT_CARE_TEAM_DAYS = env_int("MEDUNION_CONSULT_CARE_TEAM_DAYS", 30)
# Stored files (photos, PDFs, DICOM): the backend and its options (medunion.files.storage);
# the local backend keeps them under $MEDUNION_DATA_DIR/files unless MEDUNION_FILE_ROOT says where.
MEDUNION_FILE_STORAGE = {
    "BACKEND": env("MEDUNION_FILE_STORAGE", "medunion.files.storage.LocalStorage"),
    "OPTIONS": {"root": env("MEDUNION_FILE_ROOT")} if env("MEDUNION_FILE_ROOT") else {},
}
MEDUNION_MAX_UPLOAD_MB = env_int("MEDUNION_MAX_UPLOAD_MB", 20)
MEDUNION_MAX_DICOM_MB = env_int("MEDUNION_MAX_DICOM_MB", 50)
# Remote diagnosis: minutes before an unacknowledged critical finding escalates; days a signed
# report is offered instead of a repeat examination; where DICOM instances are archived
# ("local": the file store above; "orthanc": a PACS over DICOMweb at MEDUNION_DICOMWEB_URL).
MEDUNION_CRITICAL_ACK_MINUTES = env_int("MEDUNION_CRITICAL_ACK_MINUTES", 10)
MEDUNION_RECOGNITION_DAYS = env_int("MEDUNION_RECOGNITION_DAYS", 30)
MEDUNION_DICOM_ARCHIVE = env("MEDUNION_DICOM_ARCHIVE", "local")
MEDUNION_DICOMWEB_URL = env("MEDUNION_DICOMWEB_URL", "")
MEDUNION_DICOMWEB_USER = env("MEDUNION_DICOMWEB_USER", "")
MEDUNION_DICOMWEB_PASSWORD = env("MEDUNION_DICOMWEB_PASSWORD", "")

ALLOWED_HOSTS = [h.strip() for h in env("MEDUNION_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env("MEDUNION_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "medunion.core",
    "medunion.audit",
    "medunion.accounts",
    "medunion.network",
    "medunion.patients",
    "medunion.access",
    "medunion.files",
    "medunion.notifications",
    "medunion.consults",
    "medunion.referrals",
    "medunion.diagnostics",
    "medunion.fhir",
    "medunion.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "medunion.core.middleware.RequestIdMiddleware",
    # The pages' middleware (medunion.web.middleware): Django's, passed over by a bearer-token request
    # to the API or FHIR; the session's is also left alone by a poll of an open page (web.live).
    "medunion.web.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "medunion.web.middleware.CsrfViewMiddleware",
    "medunion.web.middleware.AuthenticationMiddleware",
    "medunion.accounts.middleware.SecondFactorMiddleware",
    "medunion.web.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "medunion.core.middleware.DomainErrorMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "medunion.urls"
WSGI_APPLICATION = "medunion.wsgi.application"

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
                "medunion.web.context.platform",
            ],
        },
    },
]

# Django's form templates in their Jinja2 versions, without the error list of a field that has
# none (medunion.web.forms).
FORM_RENDERER = "medunion.web.forms.FormRenderer"

# --- database ---------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend, with a health check that asks the socket instead of the server.
        DATABASES["default"]["ENGINE"] = "medunion.core.postgresql_backend"
else:
    MEDUNION_DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            # Django's SQLite backend, with writers taking turns through a lock file.
            "ENGINE": "medunion.core.sqlite_backend",
            "NAME": env("MEDUNION_SQLITE_PATH", str(MEDUNION_DATA_DIR / "medunion.sqlite3")),
            # Each server thread keeps its connection: opening one (and its PRAGMAs) cost more
            # than a whole FHIR read (benchmarks/README.md, FHIR throughput).
            "CONN_MAX_AGE": env_int("MEDUNION_SQLITE_CONN_MAX_AGE", 600),
            "OPTIONS": {
                # WAL, on every connection (init_command); foreign keys are on in Django's backend.
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
            },
            "TEST": {"NAME": env("MEDUNION_SQLITE_TEST_PATH", "") or None},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- accounts and security --------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"

# Sessions end after an idle timeout: the cookie's age is renewed on every request.
SESSION_COOKIE_AGE = env_int("MEDUNION_IDLE_TIMEOUT_SECONDS", 30 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("MEDUNION_SECURE_COOKIES", not DEBUG and not MEDUNION_DEMO)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# django-axes: lock an account (per username) after repeated failures.
AXES_FAILURE_LIMIT = env_int("MEDUNION_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("MEDUNION_LOGIN_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "medunion.accounts.lockout.locked_out"
AXES_VERBOSE = False
# Locking per user name (not per user name and address) is deliberate: a guesser rotating
# addresses must not get unlimited tries at one clinician's password. The cost, that anyone can
# lock an account for the cool-off time, is what axes.W006 warns about; the security
# administrator can unlock early.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# --- i18n and time --------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Asia/Shanghai"

STATIC_URL = "/static/"
STATIC_ROOT = MEDUNION_DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise looks here before the first collectstatic

# --- logging: never secrets or identity numbers ---------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "medunion.core.logging.RedactFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env("MEDUNION_LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

NINJA_PAGINATION_PER_PAGE = 50
MEDUNION_PAGE_SIZE = 50
# A clinician's list pages (queues, reading worklist, referrals, examinations): three screens on a
# phone, and every row shown costs its rendering and an audit row. The API's lists keep `limit`.
MEDUNION_LIST_PAGE_SIZE = max(1, min(env_int("MEDUNION_LIST_PAGE_SIZE", 20), 200))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # tests and first runs serve static files before collectstatic
