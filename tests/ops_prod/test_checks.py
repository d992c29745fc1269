"""``sekisho check --deploy``: each unsafe setting fails with its own id and a hint; a production-shaped
configuration passes. The plain ``sekisho check`` is not held to them (tests/test_cli.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection

from sekisho.core import checks as deploy

GOOD_KEY = "k" * 20 + "0123456789abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def production(settings, tmp_path):
    """A configuration that passes: what docs/admin/install.*.md sets up."""
    data = tmp_path / "data"
    vault = tmp_path / "vault"
    keys = tmp_path / "keys"
    for path in (data, vault, keys):
        path.mkdir(mode=0o700)
    for name in ("secret_key", "master.key", "audit.key"):
        (data / name).write_text("x")
        (data / name).chmod(0o600)
    settings.DEBUG = False
    settings.SECRET_KEY = GOOD_KEY
    settings.ALLOWED_HOSTS = ["sekisho.example.lg.jp"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://sekisho.example.lg.jp"]
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SEKISHO_BASE_URL = "https://sekisho.example.lg.jp"
    settings.DATA_DIR = data
    settings.VAULT_DIR = vault
    settings.SEKISHO_VAULT_BACKEND = "filesystem"
    settings.SEKISHO_VAULT_KEY_DIR = keys
    settings.SEKISHO_MASTER_KEY_FILE = data / "master.key"
    settings.SEKISHO_AUDIT_KEY_FILE = data / "audit.key"
    settings.SEKISHO_VAULT_KEY_BACKUPS = []
    settings.SEKISHO_METRICS_ALLOWED_IPS = ["127.0.0.1", "::1", "192.0.2.0/28"]
    settings.SEKISHO_METRICS_TOKEN = ""
    settings.SEKISHO_ALLOW_SQLITE = connection.vendor == "sqlite"
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    return settings


def ids() -> set[str]:
    return {str(m.id) for m in deploy.deploy_messages() if str(m.id).startswith("sekisho.")}


def test_a_production_configuration_passes(production):
    assert ids() == set()
    call_command("check", "--deploy", "--fail-level", "ERROR")


def test_the_plain_check_ignores_deployment_settings(production):
    production.DEBUG = True
    call_command("check")  # no SystemCheckError: a developer's `sekisho check` is not a deployment
    with pytest.raises(SystemCheckError, match=r"sekisho\.E001"):
        call_command("check", "--deploy")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s, p: setattr(s, "DEBUG", True), "sekisho.E001"),
        (lambda s, p: setattr(s, "SECRET_KEY", "short"), "sekisho.E002"),
        (lambda s, p: setattr(s, "SECRET_KEY", "django-insecure-" + "x" * 60), "sekisho.E002"),
        (lambda s, p: setattr(s, "SECRET_KEY", "ab" * 40), "sekisho.E002"),
        (lambda s, p: setattr(s, "SESSION_COOKIE_SECURE", False), "sekisho.E003"),
        (lambda s, p: setattr(s, "CSRF_COOKIE_SECURE", False), "sekisho.E003"),
        (lambda s, p: setattr(s, "ALLOWED_HOSTS", ["*"]), "sekisho.E004"),
        (lambda s, p: setattr(s, "ALLOWED_HOSTS", []), "sekisho.E004"),
        (lambda s, p: setattr(s, "SEKISHO_VAULT_KEY_DIR", Path(s.VAULT_DIR) / "keys"), "sekisho.E006"),
        (
            lambda s, p: setattr(s, "SEKISHO_MASTER_KEY_FILE", Path(s.VAULT_DIR) / "master.key"),
            "sekisho.E006",
        ),
        (lambda s, p: setattr(s, "SEKISHO_VAULT_KEY_BACKUPS", [Path(s.VAULT_DIR) / "b"]), "sekisho.E006"),
        (lambda s, p: Path(s.DATA_DIR).chmod(0o755), "sekisho.E007"),
        (lambda s, p: Path(s.VAULT_DIR).chmod(0o701), "sekisho.E007"),
        (lambda s, p: Path(s.SEKISHO_VAULT_KEY_DIR).chmod(0o705), "sekisho.E007"),
        (lambda s, p: (Path(s.DATA_DIR) / "secret_key").chmod(0o644), "sekisho.E008"),
        (lambda s, p: Path(s.SEKISHO_MASTER_KEY_FILE).chmod(0o640), "sekisho.E008"),
        (lambda s, p: setattr(s, "SEKISHO_METRICS_ALLOWED_IPS", ["0.0.0.0/0"]), "sekisho.E009"),
        (lambda s, p: setattr(s, "SEKISHO_METRICS_ALLOWED_IPS", ["::/0"]), "sekisho.E009"),
        (lambda s, p: setattr(s, "SEKISHO_METRICS_ALLOWED_IPS", ["monitoring.example"]), "sekisho.E009"),
        (lambda s, p: setattr(s, "SEKISHO_METRICS_TOKEN", "short-token"), "sekisho.E010"),
        (lambda s, p: setattr(s, "CSRF_TRUSTED_ORIGINS", ["http://sekisho.example.lg.jp"]), "sekisho.E011"),
        (
            lambda s, p: (
                setattr(s, "SEKISHO_VAULT_BACKEND", "s3") or setattr(s, "SEKISHO_VAULT_S3_BUCKET", "")
            ),
            "sekisho.E012",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_each_unsafe_setting_fails_the_deploy_check(production, tmp_path, change, expected):
    change(production, tmp_path)
    assert ids() == {expected}
    with pytest.raises(SystemCheckError) as failure:
        call_command("check", "--deploy")
    text = str(failure.value)
    assert expected in text and "HINT:" in text and "docs/admin/install.en.md" in text


def test_sqlite_needs_to_be_allowed_explicitly(production):
    production.SEKISHO_ALLOW_SQLITE = False
    expected = {"sekisho.E005"} if connection.vendor == "sqlite" else set()
    assert ids() == expected
    production.SEKISHO_ALLOW_SQLITE = True
    assert ids() == set()


def test_plain_http_cookies_are_allowed_on_loopback_only(production):
    production.SESSION_COOKIE_SECURE = production.CSRF_COOKIE_SECURE = False
    production.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
    production.SEKISHO_BASE_URL = "http://127.0.0.1:8000"
    assert ids() == set(), "the loopback demonstration of `make run`"
    production.ALLOWED_HOSTS = ["127.0.0.1", "sekisho.example.lg.jp"]
    assert ids() == {"sekisho.E003"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: setattr(s, "SEKISHO_BASE_URL", "http://sekisho.example.lg.jp"), "sekisho.W001"),
        (
            lambda s: setattr(
                s, "TASKS", {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
            ),
            "sekisho.W002",
        ),
        (
            lambda s: setattr(s, "EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"),
            "sekisho.W003",
        ),
    ],
)
def test_doubtful_settings_warn_without_failing(production, change, expected):
    change(production)
    assert ids() == {expected}
    call_command("check", "--deploy", "--fail-level", "ERROR")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("[::1]", True),
        ("::1", True),
        ("app.localhost", True),
        ("sekisho.example.lg.jp", False),
        ("0.0.0.0", False),
        ("192.0.2.1", False),
        ("", False),
    ],
)
def test_what_counts_as_loopback(host, loopback):
    assert deploy.is_loopback_host(host) is loopback


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another owner")
def test_a_secret_file_root_provides_may_be_group_readable_never_world_readable(
    production, tmp_path, monkeypatch
):
    secret = tmp_path / "smtp_password"
    secret.write_text("pw")
    os.chown(secret, 0, 0)
    monkeypatch.setenv("SEKISHO_EMAIL_PASSWORD_FILE", str(secret))
    nobody = 65534
    os.chown(production.SEKISHO_MASTER_KEY_FILE, nobody, nobody)  # provided by someone else
    Path(production.SEKISHO_MASTER_KEY_FILE).chmod(0o640)
    secret.chmod(0o640)
    assert ids() == {"sekisho.E008"}, "the check runs as root here: root's own file must be 0600"
    secret.chmod(0o600)
    assert ids() == set(), "0640 owned by another user: readable by the service's group only"
    Path(production.SEKISHO_MASTER_KEY_FILE).chmod(0o644)
    assert ids() == {"sekisho.E008"}


def test_a_secret_given_as_a_file_is_checked_too(production, tmp_path, monkeypatch):
    secret = tmp_path / "metrics_token"
    secret.write_text("x" * 40)
    secret.chmod(0o644)
    monkeypatch.setenv("SEKISHO_METRICS_TOKEN_FILE", str(secret))
    assert ids() == {"sekisho.E008"}
    secret.chmod(0o600)
    assert ids() == set()


def test_the_files_a_server_creates_pass_the_permission_check(production, tmp_path):
    """The secret key and the audit key that settings.py generates are 0600 from the start."""
    from sekisho.settings import persistent_secret

    path = Path(production.DATA_DIR) / "secret_key"
    path.unlink()
    persistent_secret(path)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert ids() == set()
