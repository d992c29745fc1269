"""Deployment checks: ``sekisho check --deploy`` fails (non-zero, each problem with its id) on a setting that is
unsafe for production, and ``sekisho serve`` runs the same checks and refuses to start (docs/admin/install.*).

Errors (E) block; warnings (W) are printed. Django's own deploy checks (``security.W0xx``) run alongside; the
ones that matter here are restated as errors, because an unsafe production server must not start.

Registered with ``deploy=True`` only: a plain ``sekisho check`` (and the loopback demo of ``make run``) is not
held to them.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
MIN_SECRET_LENGTH = 50
MIN_METRICS_TOKEN_LENGTH = 32
SEE = "See docs/admin/install.en.md."


def is_loopback_host(host: str) -> bool:
    """True for a name or address that only this machine reaches (``localhost``, 127.0.0.0/8, ``::1``)."""
    value = host.strip().lower()
    if value in LOOPBACK_NAMES or value.endswith(".localhost"):
        return True
    value = value.strip("[]")
    try:
        return ipaddress.ip_address(value).is_loopback
    except ValueError:
        return False


def loopback_only() -> bool:
    hosts = list(settings.ALLOWED_HOSTS)
    return bool(hosts) and all(is_loopback_host(h) for h in hosts)


def _error(msg: str, hint: str, n: int) -> checks.Error:
    return checks.Error(msg, hint=f"{hint} {SEE}", id=f"sekisho.E{n:03d}")


def _warning(msg: str, hint: str, n: int) -> checks.Warning:
    return checks.Warning(msg, hint=f"{hint} {SEE}", id=f"sekisho.W{n:03d}")


def check_debug(**kwargs: Any) -> list[checks.CheckMessage]:
    if settings.DEBUG:
        return [_error("DEBUG is on: error pages show settings and code.", "Unset SEKISHO_DEBUG.", 1)]
    return []


def check_secret_key(**kwargs: Any) -> list[checks.CheckMessage]:
    key = str(getattr(settings, "SECRET_KEY", "") or "")
    if len(key) < MIN_SECRET_LENGTH or len(set(key)) < 5 or key.startswith("django-insecure"):
        return [
            _error(
                f"The secret key is missing, short (under {MIN_SECRET_LENGTH} characters) or a placeholder.",
                "Unset SEKISHO_SECRET_KEY to use the generated one, or give a long random value "
                "(SEKISHO_SECRET_KEY_FILE).",
                2,
            )
        ]
    return []


def check_cookies(**kwargs: Any) -> list[checks.CheckMessage]:
    if (settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE) or loopback_only():
        return []
    return [
        _error(
            "Session and CSRF cookies may travel over plain HTTP, and the site is reachable beyond this "
            "machine (ALLOWED_HOSTS).",
            "Unset SEKISHO_SECURE_COOKIES=0; serve over HTTPS (a reverse proxy with TLS).",
            3,
        )
    ]


def check_allowed_hosts(**kwargs: Any) -> list[checks.CheckMessage]:
    hosts = list(settings.ALLOWED_HOSTS)
    if not hosts or any(h.strip() in ("*", ".") for h in hosts):
        return [
            _error(
                f"ALLOWED_HOSTS is {hosts!r}: any Host header is accepted (or none is).",
                "Set SEKISHO_ALLOWED_HOSTS to the name users type, e.g. sekisho.example.lg.jp.",
                4,
            )
        ]
    return []


def check_database(**kwargs: Any) -> list[checks.CheckMessage]:
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine.endswith("sqlite3") and not getattr(settings, "SEKISHO_ALLOW_SQLITE", False):
        return [
            _error(
                "The database is SQLite: one file on one host, no concurrent writers across hosts, no "
                "online backup by the database server.",
                "Set DATABASE_URL=postgres://…; or, for a deliberate single-host deployment, "
                "SEKISHO_ALLOW_SQLITE=1.",
                5,
            )
        ]
    return []


def _inside(path: Path, root: Path) -> bool:
    return path.resolve() == root.resolve() or path.resolve().is_relative_to(root.resolve())


def check_key_store(**kwargs: Any) -> list[checks.CheckMessage]:
    """Contract keys and the master key must not live with the blobs they unlock: a copy of the vault would
    carry them, and crypto-shredding (R2.5) would not reach that copy."""
    if settings.SEKISHO_VAULT_BACKEND != "filesystem":
        return []
    vault = Path(settings.VAULT_DIR)
    keys = [
        ("SEKISHO_VAULT_KEY_DIR", Path(settings.SEKISHO_VAULT_KEY_DIR)),
        ("SEKISHO_MASTER_KEY_FILE", Path(settings.SEKISHO_MASTER_KEY_FILE)),
        *(("SEKISHO_VAULT_KEY_BACKUPS", Path(p)) for p in settings.SEKISHO_VAULT_KEY_BACKUPS),
    ]
    found = [f"{name}={path}" for name, path in keys if _inside(path, vault) or _inside(vault, path)]
    if found:
        return [
            _error(
                f"The vault's key store is inside the vault storage ({vault}): {', '.join(found)}.",
                "Keep SEKISHO_VAULT_KEY_DIR, SEKISHO_MASTER_KEY_FILE and the key backups outside "
                "SEKISHO_VAULT_DIR.",
                6,
            )
        ]
    return []


def _world_accessible(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & (stat.S_IRWXO))
    except FileNotFoundError:
        return False


def _too_open(path: Path) -> bool:
    """A key or secret file that others may read. The service's own files must be 0600; a file someone else
    (root) provides for it may be readable by the service's group (0640 root:sekisho), never by everyone."""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    if info.st_uid == os.geteuid():
        return bool(info.st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    return bool(info.st_mode & stat.S_IRWXO)


# Secrets given as files through the environment (settings.envsecret): checked like the key files.
SECRET_FILE_VARIABLES = (
    "SEKISHO_SECRET_KEY_FILE",
    "SEKISHO_EMAIL_PASSWORD_FILE",
    "SEKISHO_VAULT_S3_SECRET_KEY_FILE",
    "SEKISHO_METRICS_TOKEN_FILE",
)


def check_permissions(**kwargs: Any) -> list[checks.CheckMessage]:
    directories = [Path(settings.DATA_DIR), Path(settings.SEKISHO_VAULT_KEY_DIR)]
    if settings.SEKISHO_VAULT_BACKEND == "filesystem":
        directories.append(Path(settings.VAULT_DIR))
    open_dirs = sorted({str(d) for d in directories if _world_accessible(d)})
    secrets = [
        Path(settings.DATA_DIR) / "secret_key",
        Path(settings.SEKISHO_MASTER_KEY_FILE),
        Path(settings.SEKISHO_AUDIT_KEY_FILE),
        *(Path(os.environ[name]) for name in SECRET_FILE_VARIABLES if os.environ.get(name)),
    ]
    open_files = sorted({str(f) for f in secrets if _too_open(f)})
    errors: list[checks.CheckMessage] = []
    if open_dirs:
        errors.append(
            _error(
                f"Other users of this machine may enter: {', '.join(open_dirs)}.",
                "chmod 700 each (the systemd unit's StateDirectoryMode=0700 and UMask=0077 do it).",
                7,
            )
        )
    if open_files:
        errors.append(
            _error(
                f"Key or secret files readable by others: {', '.join(open_files)}.",
                "chmod 600 the service's own files; a file root provides may be 0640 root:<service group>.",
                8,
            )
        )
    return errors


def check_metrics_access(**kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for entry in settings.SEKISHO_METRICS_ALLOWED_IPS:
        try:
            network = ipaddress.ip_network(entry.strip().strip("[]"), strict=False)
        except ValueError:
            errors.append(
                _error(
                    f"SEKISHO_METRICS_ALLOWED_IPS has {entry!r}, not an address or network.",
                    "List addresses or networks (CIDR).",
                    9,
                )
            )
            continue
        if network.prefixlen == 0:
            errors.append(
                _error(
                    f"SEKISHO_METRICS_ALLOWED_IPS has {entry!r}: /metrics is open to every address.",
                    "List the monitoring hosts only, or use SEKISHO_METRICS_TOKEN.",
                    9,
                )
            )
    token = str(settings.SEKISHO_METRICS_TOKEN or "")
    if token and len(token) < MIN_METRICS_TOKEN_LENGTH:
        errors.append(
            _error(
                f"SEKISHO_METRICS_TOKEN is shorter than {MIN_METRICS_TOKEN_LENGTH} characters.",
                "Use a long random token (e.g. `openssl rand -hex 32`).",
                10,
            )
        )
    return errors


def check_origins(**kwargs: Any) -> list[checks.CheckMessage]:
    plain = [
        origin
        for origin in settings.CSRF_TRUSTED_ORIGINS
        if origin.lower().startswith("http://")
        and not is_loopback_host((origin[7:].split("/")[0].rsplit(":", 1)[0]) or "")
    ]
    if plain:
        return [
            _error(
                f"CSRF_TRUSTED_ORIGINS trusts plain-HTTP origins: {', '.join(plain)}.",
                "Use https:// origins (SEKISHO_CSRF_TRUSTED_ORIGINS).",
                11,
            )
        ]
    return []


def check_vault_backend(**kwargs: Any) -> list[checks.CheckMessage]:
    if settings.SEKISHO_VAULT_BACKEND == "s3" and not settings.SEKISHO_VAULT_S3_BUCKET:
        return [_error("The vault uses S3 but SEKISHO_VAULT_S3_BUCKET is empty.", "Name the bucket.", 12)]
    if settings.SEKISHO_VAULT_BACKEND not in ("filesystem", "s3"):
        return [
            _error(
                f"SEKISHO_VAULT_BACKEND={settings.SEKISHO_VAULT_BACKEND!r} is not a vault backend.",
                "Use filesystem or s3.",
                12,
            )
        ]
    return []


def check_links_and_mail(**kwargs: Any) -> list[checks.CheckMessage]:
    warnings: list[checks.CheckMessage] = []
    base = str(getattr(settings, "SEKISHO_BASE_URL", ""))
    host = base.split("://", 1)[-1].split("/")[0].rsplit(":", 1)[0]
    if not base.startswith("https://") and not is_loopback_host(host):
        warnings.append(
            _warning(
                f"SEKISHO_BASE_URL={base!r} is not https: links in e-mails would be plain HTTP.",
                "Set SEKISHO_BASE_URL=https://<the public name>.",
                1,
            )
        )
    if str(settings.TASKS["default"]["BACKEND"]).endswith("ImmediateBackend"):
        warnings.append(
            _warning(
                "Tasks run immediately in the web process (SEKISHO_TASKS_BACKEND=immediate): a slow mail "
                "server slows the page, and a failed e-mail is not retried.",
                "Use the database backend and run `sekisho db_worker`.",
                2,
            )
        )
    if settings.EMAIL_BACKEND.rsplit(".", 2)[-2] in ("console", "locmem", "dummy"):
        warnings.append(
            _warning(
                f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}: e-mail goes nowhere.",
                "Use the SMTP backend (the default) and SEKISHO_EMAIL_HOST.",
                3,
            )
        )
    return warnings


DEPLOY_CHECKS = (
    check_debug,
    check_secret_key,
    check_cookies,
    check_allowed_hosts,
    check_database,
    check_key_store,
    check_permissions,
    check_metrics_access,
    check_origins,
    check_vault_backend,
    check_links_and_mail,
)


def register() -> None:
    for check in DEPLOY_CHECKS:
        checks.register(check, checks.Tags.security, deploy=True)


def deploy_messages() -> list[checks.CheckMessage]:
    """Every message of the deployment checks (ours and Django's) that is not silenced, for `sekisho serve`."""
    from django.core.checks import run_checks

    return [m for m in run_checks(include_deployment_checks=True) if not m.is_silenced()]
