"""The agent's local state: the key file stays private, enrolments are found by device."""

from __future__ import annotations

import os
import stat

import pytest

from sekisho.agent import cli, config
from sekisho.agent.signing import (
    b64decode,
    canonical_message,
    fingerprint,
    load_public_key,
    public_key_text,
    sign_request,
)


def test_key_is_created_once_with_mode_0600_and_reused(tmp_path):
    cfg = config.load(tmp_path / "home")
    key = config.load_or_create_key(cfg)
    assert stat.S_IMODE(cfg.key_path.stat().st_mode) == 0o600
    again = config.load_or_create_key(config.load(tmp_path / "home"))
    assert public_key_text(again.public_key()) == public_key_text(key.public_key())


def test_a_key_file_readable_by_others_is_refused(tmp_path):
    cfg = config.load(tmp_path)
    config.load_or_create_key(cfg)
    os.chmod(cfg.key_path, 0o644)
    with pytest.raises(config.ConfigError, match="0600"):
        config.load_key(cfg)


def test_enrolments_are_saved_and_found_by_device(tmp_path):
    cfg = config.load(tmp_path)
    with pytest.raises(config.ConfigError, match="まだ登録されていません"):
        cfg.find(None)
    cfg.add(config.Enrollment(server="http://s", device="d1", contract_number="T-001"))
    cfg.add(config.Enrollment(server="http://s", device="d2", contract_number="T-002"))
    config.save(cfg)
    loaded = config.load(tmp_path)
    assert loaded.find("d2").contract_number == "T-002"
    with pytest.raises(config.ConfigError, match="--device"):
        loaded.find(None)
    assert stat.S_IMODE((tmp_path / "config.json").stat().st_mode) == 0o600


def test_signature_covers_method_path_time_nonce_device_and_body(tmp_path):
    key = config.load_or_create_key(config.load(tmp_path))
    public = public_key_text(key.public_key())
    headers = sign_request(
        key, method="post", path="/api/v1/agent/report", body=b"{}", key_id="dev", timestamp=1
    )
    raw = b64decode(headers.signature)
    message = canonical_message("POST", "/api/v1/agent/report", "1", headers.nonce, "dev", b"{}")
    load_public_key(public).verify(raw, message)
    with pytest.raises(Exception):
        load_public_key(public).verify(
            raw, canonical_message("POST", "/api/v1/agent/report", "1", headers.nonce, "dev", b"[]")
        )
    assert len(fingerprint(public)) == 64


def test_cli_reports_errors_in_japanese_with_exit_code_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEKISHO_AGENT_HOME", str(tmp_path))
    assert cli.main(["status"]) == cli.EXIT_ERROR
    assert "まだ登録されていません" in capsys.readouterr().err
    assert cli.main(["enroll", "--server", "ftp://x", "--code", "A"]) == cli.EXIT_ERROR
    assert "URL" in capsys.readouterr().err
