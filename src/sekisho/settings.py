"""The one settings module. Everything that differs between deployments comes from environment variables.

Secrets may be given directly (``SEKISHO_SECRET_KEY``) or as a file (``SEKISHO_SECRET_KEY_FILE``), so they can
come from a secrets manager mount instead of the process environment.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def envint(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def envsecret(name: str) -> str | None:
    """Read a secret from NAME or from the file named by NAME_FILE (not both)."""
    direct = os.environ.get(name)
    path = os.environ.get(f"{name}_FILE")
    if direct and path:
        raise ImproperlyConfigured(f"set either {name} or {name}_FILE, not both")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc}") from exc
    return direct or None


def persistent_secret(path: Path, nbytes: int = 50) -> str:
    """Return the secret kept at *path*, creating it (mode 0600) on first use.

    A random per-process key would log everyone out on each restart and break signed links between
    processes, so the key is generated once and kept in the data directory.
    """
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race; use its key
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    return value


PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(envstr("SEKISHO_DATA_DIR", "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
VAULT_DIR = Path(envstr("SEKISHO_VAULT_DIR", str(DATA_DIR / "vault"))).resolve()

DEBUG = envbool("SEKISHO_DEBUG", False)
SECRET_KEY = envsecret("SEKISHO_SECRET_KEY") or persistent_secret(DATA_DIR / "secret_key")
ALLOWED_HOSTS = envlist("SEKISHO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("SEKISHO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_tasks",
    "django_tasks_db",
    "sekisho.core",
    "sekisho.audit",
    "sekisho.devices",
    "sekisho.ledger",
    "sekisho.permits",
    "sekisho.people",
    "sekisho.vault",
    "sekisho.notifications",
    "sekisho.incidents",
    "sekisho.documents",
    "sekisho.compliance",
    "sekisho.oversight",
    "sekisho.closeout",
    "sekisho.web",
]

MIDDLEWARE = [
    "sekisho.core.middleware.RequestIdMiddleware",
    "sekisho.obs.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "sekisho.core.middleware.SecurityHeadersMiddleware",
    "sekisho.core.middleware.DatabaseUnavailableMiddleware",
    "sekisho.core.middleware.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "sekisho.core.middleware.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "sekisho.core.middleware.RefusalPageMiddleware",
]

ROOT_URLCONF = "sekisho.urls"
WSGI_APPLICATION = "sekisho.wsgi.application"
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:contract-list"
LOGOUT_REDIRECT_URL = "web:login"

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
                "sekisho.notifications.context_processors.notifications",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        envstr("DATABASE_URL", f"sqlite:///{DATA_DIR / 'sekisho.sqlite3'}"),
        conn_max_age=envint("SEKISHO_DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock up front, so two writers queue instead of one failing
    # half-way with "database is locked"; WAL lets readers go on meanwhile.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login lockout: after this many failed attempts the account is locked for the given minutes.
SEKISHO_LOCKOUT_ATTEMPTS = envint("SEKISHO_LOCKOUT_ATTEMPTS", 5)
SEKISHO_LOCKOUT_MINUTES = envint("SEKISHO_LOCKOUT_MINUTES", 15)
SEKISHO_IMPORT_MAX_BYTES = envint("SEKISHO_IMPORT_MAX_BYTES", 50 * 1024 * 1024)  # ledger import upload cap

# Audit log (R2.9, P11): the Ed25519 key that signs tree heads, generated once into the data directory
# (mode 0600) like the secret key; SEKISHO_AUDIT_KEY_FILE names a key kept elsewhere (PEM or base64url seed).
_audit_key_file = envstr("SEKISHO_AUDIT_KEY_FILE")
SEKISHO_AUDIT_KEY_FILE = Path(_audit_key_file or DATA_DIR / "audit_ed25519.key").resolve()
if not _audit_key_file:
    persistent_secret(SEKISHO_AUDIT_KEY_FILE, 32)
# Minutes between automatic signed tree heads of a log that keeps growing (`sekisho audit sign --due`).
SEKISHO_STH_INTERVAL_MINUTES = envint("SEKISHO_STH_INTERVAL_MINUTES", 60)

# Vault (R2.6.2イ/ウ, R2.7ウ, R2.5): sealed blobs on the filesystem (VAULT_DIR) or an S3-compatible store;
# contract keys in a key store of their own, which data backups must exclude (see sekisho/vault/keystore.py).
SEKISHO_VAULT_BACKEND = envstr("SEKISHO_VAULT_BACKEND", "filesystem")
SEKISHO_VAULT_SEGMENT_SIZE = envint("SEKISHO_VAULT_SEGMENT_SIZE", 1 << 20)
SEKISHO_VAULT_MAX_UPLOAD_BYTES = envint("SEKISHO_VAULT_MAX_UPLOAD_BYTES", 0)  # 0: no limit but the disk
SEKISHO_VAULT_KEY_SERVICE = envstr("SEKISHO_VAULT_KEY_SERVICE", "sekisho.vault.keystore.LocalKeyService")
SEKISHO_VAULT_KEY_DIR = Path(envstr("SEKISHO_VAULT_KEY_DIR", str(DATA_DIR / "keys"))).resolve()
SEKISHO_MASTER_KEY_FILE = Path(envstr("SEKISHO_MASTER_KEY_FILE", str(DATA_DIR / "master.key"))).resolve()
SEKISHO_VAULT_KEY_BACKUPS = [Path(p).resolve() for p in envlist("SEKISHO_VAULT_KEY_BACKUPS", "")]
SEKISHO_VAULT_S3_ENDPOINT = envstr("SEKISHO_VAULT_S3_ENDPOINT")
SEKISHO_VAULT_S3_BUCKET = envstr("SEKISHO_VAULT_S3_BUCKET")
SEKISHO_VAULT_S3_REGION = envstr("SEKISHO_VAULT_S3_REGION", "us-east-1")
SEKISHO_VAULT_S3_ACCESS_KEY = envsecret("SEKISHO_VAULT_S3_ACCESS_KEY") or ""
SEKISHO_VAULT_S3_SECRET_KEY = envsecret("SEKISHO_VAULT_S3_SECRET_KEY") or ""
SEKISHO_VAULT_S3_PART_SIZE = envint("SEKISHO_VAULT_S3_PART_SIZE", 8 << 20)

# Sessions end after this many idle minutes: the expiry is pushed forward on every request.
SESSION_COOKIE_AGE = envint("SEKISHO_SESSION_IDLE_MINUTES", 30) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Secure cookies by default. Only the loopback demo (`make run`, plain HTTP) turns them off explicitly.
_secure = envbool("SEKISHO_SECURE_COOKIES", True)
SESSION_COOKIE_SECURE = _secure
CSRF_COOKIE_SECURE = _secure
SECURE_SSL_REDIRECT = envbool("SEKISHO_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = envint("SEKISHO_HSTS_SECONDS", 0)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if envbool("SEKISHO_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = envstr("SEKISHO_TIME_ZONE", "Asia/Tokyo")
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True  # serve the package's static files without a collectstatic step
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

EMAIL_BACKEND = envstr("SEKISHO_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = envstr("SEKISHO_EMAIL_HOST", "localhost")
EMAIL_PORT = envint("SEKISHO_EMAIL_PORT", 25)
EMAIL_HOST_USER = envstr("SEKISHO_EMAIL_USER")
EMAIL_HOST_PASSWORD = envsecret("SEKISHO_EMAIL_PASSWORD") or ""
EMAIL_USE_TLS = envbool("SEKISHO_EMAIL_USE_TLS", False)
EMAIL_USE_SSL = envbool("SEKISHO_EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = envstr("SEKISHO_EMAIL_FROM", "sekisho@localhost")
# The address users reach Sekisho at: links in e-mails are made absolute with it.
SEKISHO_BASE_URL = envstr("SEKISHO_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

OTP_TOTP_ISSUER = "Sekisho"

# Background work (e-mail, long jobs): django-tasks with its database backend; `sekisho db_worker` runs the
# queue. SEKISHO_TASKS_BACKEND=immediate runs each task at once in the process that enqueues it instead.
_TASK_BACKENDS = {
    "database": "django_tasks_db.DatabaseBackend",
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
}
_task_backend = envstr("SEKISHO_TASKS_BACKEND", "database")
if _task_backend not in _TASK_BACKENDS:
    raise ImproperlyConfigured(f"SEKISHO_TASKS_BACKEND must be one of {', '.join(_TASK_BACKENDS)}")
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[_task_backend], "QUEUES": ["default"]}}
# A failed e-mail is tried again after 1, 4, 16, 64 … minutes (x4 each time) until this many attempts.
SEKISHO_MAIL_MAX_ATTEMPTS = envint("SEKISHO_MAIL_MAX_ATTEMPTS", 5)
SEKISHO_MAIL_RETRY_SECONDS = envint("SEKISHO_MAIL_RETRY_SECONDS", 60)

# Observability (docs/admin/operations.*.md): logs as text or one JSON object a line; /healthz; /metrics for
# the listed addresses or a bearer token. Behind a reverse proxy the caller is the last X-Forwarded-For hop,
# believed only from the proxies in SEKISHO_FORWARDED_ALLOW_IPS (also gunicorn's --forwarded-allow-ips).
SEKISHO_LOG_FORMAT = envstr("SEKISHO_LOG_FORMAT", "plain").strip().lower()
if SEKISHO_LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("SEKISHO_LOG_FORMAT must be plain or json")
SEKISHO_BEHIND_PROXY = envbool("SEKISHO_BEHIND_PROXY", False)
SEKISHO_FORWARDED_ALLOW_IPS = envlist("SEKISHO_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
SEKISHO_METRICS_ALLOWED_IPS = envlist("SEKISHO_METRICS_ALLOWED_IPS", "127.0.0.1,::1")
SEKISHO_METRICS_TOKEN = envsecret("SEKISHO_METRICS_TOKEN") or ""
# Where `sekisho serve` keeps its workers' counters (one subdirectory per running server).
SEKISHO_METRICS_DIR = Path(envstr("SEKISHO_METRICS_DIR", str(DATA_DIR / "metrics"))).resolve()
SEKISHO_HEALTH_TASK_MAX_AGE = envint("SEKISHO_HEALTH_TASK_MAX_AGE", 900)  # seconds; 0: not checked
# `sekisho check --deploy` refuses SQLite unless this says a single-host SQLite deployment is meant.
SEKISHO_ALLOW_SQLITE = envbool("SEKISHO_ALLOW_SQLITE", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "sekisho.obs.logs.RequestContextFilter"}},
    "formatters": {
        "plain": {"()": "sekisho.obs.logs.PlainFormatter"},
        "json": {"()": "sekisho.obs.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": SEKISHO_LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": envstr("SEKISHO_LOG_LEVEL", "INFO")},
}
if SEKISHO_LOG_FORMAT == "json":
    import logging as _logging

    _logging.captureWarnings(True)  # Python warnings as log records, not stray text lines
