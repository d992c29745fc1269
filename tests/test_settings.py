from __future__ import annotations

import os
import stat

import pytest
from django.core.exceptions import ImproperlyConfigured

from sekisho.settings import envbool, envsecret, persistent_secret


def test_secret_key_is_generated_once_and_kept(tmp_path):
    path = tmp_path / "data" / "secret_key"
    first = persistent_secret(path)
    assert len(first) >= 50
    assert persistent_secret(path) == first
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_secret_can_come_from_a_file(tmp_path, monkeypatch):
    secret_file = tmp_path / "key"
    secret_file.write_text("from-a-file\n", encoding="utf-8")
    monkeypatch.delenv("SEKISHO_TEST_SECRET", raising=False)
    monkeypatch.setenv("SEKISHO_TEST_SECRET_FILE", str(secret_file))
    assert envsecret("SEKISHO_TEST_SECRET") == "from-a-file"
    monkeypatch.setenv("SEKISHO_TEST_SECRET", "direct")
    with pytest.raises(ImproperlyConfigured):
        envsecret("SEKISHO_TEST_SECRET")


def test_boolean_settings_refuse_junk(monkeypatch):
    monkeypatch.setenv("SEKISHO_TEST_FLAG", "perhaps")
    with pytest.raises(ImproperlyConfigured):
        envbool("SEKISHO_TEST_FLAG", False)
    monkeypatch.setenv("SEKISHO_TEST_FLAG", "on")
    assert envbool("SEKISHO_TEST_FLAG", False) is True


def test_safe_defaults(settings):
    from django.conf import settings as live

    assert live.DEBUG is False
    assert live.SESSION_COOKIE_HTTPONLY is True
    assert live.X_FRAME_OPTIONS == "DENY"
    assert live.LANGUAGE_CODE == "ja"
