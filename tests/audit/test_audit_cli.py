"""`sekisho audit …`: the same rules as the API, and the verifier's exit status."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from sekisho.audit import keys, merkle, signing
from sekisho.audit.models import AuditEvent, PinnedHead, TreeHead

from .conftest import grow

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("audit", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_export_then_verify_passes_and_a_flipped_byte_fails_naming_the_event(world, tmp_path):
    path = tmp_path / "export.jsonl"
    _run("export", "T-001", "--as", "orderer", "-o", str(path))
    pem = tmp_path / "key.pem"
    _run("pubkey", "-o", str(pem))
    assert "結果: 正常" in _run("verify", str(path), "--pubkey", str(pem))
    assert "結果: 正常" in _run("verify", str(path), "--pubkey", signing.public_key_b64(keys.public_key()))

    data = bytearray(path.read_bytes())
    lines = data.split(b"\n")
    data[len(lines[0]) + 1 + len(lines[1]) + 1 + 5] ^= 0x01  # a byte of event 1
    path.write_bytes(bytes(data))
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("audit", "verify", str(path), "--pubkey", str(pem), stdout=out)
    assert failed.value.returncode == 1
    assert "最初の不正なイベント: 連番 1" in out.getvalue()


def test_export_is_refused_to_staff_and_outsiders(world, tmp_path):
    with pytest.raises(CommandError, match="権限がありません"):
        _run("export", "T-001", "--as", "staff", "-o", str(tmp_path / "x"))
    with pytest.raises(CommandError, match="見つかりません"):
        _run("export", "T-001", "--as", "outsider", "-o", str(tmp_path / "x"))
    with pytest.raises(CommandError, match="--as"):
        _run("sign", "T-001")
    assert not (tmp_path / "x").exists()


def test_sign_prints_a_head_that_pin_and_verify_accept(world, tmp_path):
    head_json = _run("sign", "T-001", "--as", "auditor", "--reason", "inspection")
    head = signing.TreeHead.from_dict(json.loads(head_json))
    assert signing.signature_is_valid(head, keys.public_key())
    saved = tmp_path / "head.json"
    saved.write_text(head_json, encoding="utf-8")
    grow(world.contract, world.manager, 5)
    assert "整合しています" in _run("pin", "T-001", str(saved), "--as", "orderer")
    assert PinnedHead.objects.get().size == head.size
    assert "すべてと整合しています" in _run("witness", "T-001", "--as", "auditor")
    export = tmp_path / "export.jsonl"
    _run("export", "T-001", "--as", "manager", "-o", str(export))
    assert "照合した記録済みツリーヘッド: 1件" in _run("verify", str(export), "--pinned", str(saved))


def test_witness_fails_with_a_non_zero_status_when_history_was_rewritten(world, tmp_path):
    seen = signing.sign(
        signing.TreeHead(f"contract:{world.contract.pk}", 3, "42" * 32, "ab" * 32, 1_800_000_000_000),
        keys.signing_key(),
    )
    saved = tmp_path / "seen.json"
    saved.write_text(json.dumps(seen.to_dict()), encoding="utf-8")
    with pytest.raises(CommandError) as pinned:
        _run("pin", "T-001", str(saved), "--as", "orderer")
    assert pinned.value.returncode == 1
    with pytest.raises(CommandError) as failed:
        _run("witness", "T-001", "--as", "orderer")
    assert failed.value.returncode == 1


def test_prove_prints_proofs_that_verify(world):
    grow(world.contract, world.manager, 20)
    _run("sign", "T-001", "--as", "orderer")
    head = TreeHead.objects.latest("id")
    inclusion = json.loads(_run("prove", "inclusion", "T-001", "--index", "3", "--as", "auditor"))
    merkle.verify_inclusion(
        3,
        head.size,
        merkle.leaf_hash(inclusion["event"].encode()),
        [bytes.fromhex(h) for h in inclusion["proof"]],
        bytes.fromhex(head.root_hash),
    )
    consistency = json.loads(_run("prove", "consistency", "T-001", "--first", "4", "--as", "auditor"))
    merkle.verify_consistency(
        4,
        head.size,
        bytes.fromhex(consistency["first_root"]),
        bytes.fromhex(head.root_hash),
        [bytes.fromhex(h) for h in consistency["proof"]],
    )
    with pytest.raises(CommandError, match="権限がありません"):
        _run("prove", "inclusion", "T-001", "--index", "0", "--as", "staff")


def test_periodic_signing_and_full_check_from_the_command_line(world):
    out = io.StringIO()
    call_command("audit", "sign", "--due", stdout=out, stderr=io.StringIO())
    assert f"contract:{world.contract.pk}" in out.getvalue()
    assert TreeHead.objects.filter(reason="interval").count() == 3  # both contracts and the deployment
    assert AuditEvent.objects.filter(action="audit.sign_due").count() == 1
    check = _run("check")
    assert "NG" not in check and "deployment" in check
