"""The export and its offline verifier: any change to the events, their order or number, or a signature
from another key, fails and names the place; pinned heads are checked; nothing needs Django."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sekisho.audit import keys, merkle, services, signing
from sekisho.audit.canonical import canonical_json
from sekisho.audit.models import AuditEvent
from sekisho.audit.verify import verify_export

from .conftest import grow, synthetic_export

pytestmark = pytest.mark.django_db


def _lines(path: Path) -> tuple[bytes, list[bytes]]:
    header, *events = path.read_bytes().split(b"\n")
    assert events[-1] == b""
    return header, events[:-1]


def _write(path: Path, header: bytes, events: list[bytes]) -> Path:
    path.write_bytes(b"\n".join([header, *events]) + b"\n")
    return path


def _verify(path: Path, **kwargs):
    kwargs.setdefault("public_key", keys.public_key())
    return verify_export(path, **kwargs)


def test_export_holds_the_events_a_signed_tree_head_and_the_public_key_in_one_file(world, exported):
    path = exported()
    header_line, events = _lines(path)
    header = json.loads(header_line)
    stored = list(AuditEvent.objects.filter(contract=world.contract).order_by("index"))
    assert [e.canonical_bytes() for e in stored] == events
    assert events[-1] == stored[-1].canonical_bytes() and stored[-1].action == "audit.export"
    head = signing.TreeHead.from_dict(header["tree_head"])
    assert head.size == len(events) == header["events"]
    assert head.root_hash == merkle.root_of_leaf_hashes([merkle.leaf_hash(e) for e in events]).hex()
    assert head.head_hash == hashlib.sha256(events[-1]).hexdigest()
    assert header["public_key"]["base64"] == signing.public_key_b64(keys.public_key())
    assert header["contract"] == {"id": world.contract.pk, "number": "T-001", "title": world.contract.title}
    assert signing.signature_is_valid(head, keys.public_key())


def test_untouched_export_verifies_with_the_deployment_key(exported):
    report = _verify(exported(extra_events=20))
    assert report.ok, report.problems
    assert report.signature_ok and not report.key_from_file
    assert report.events == report.signed_size


def test_flipping_any_byte_of_any_event_fails_and_names_that_event(exported):
    path = exported()
    original = path.read_bytes()
    header, events = _lines(path)
    public_key = keys.public_key()
    start = len(header) + 1
    for index, event in enumerate(events):
        for offset in range(len(event) + 1):  # every byte, and the newline that ends the event
            changed = bytearray(original)
            changed[start + offset] ^= 0x01
            report = verify_export(bytes(changed), public_key=public_key)
            assert not report.ok, (index, offset)
            assert report.first_bad_index == index, (index, offset, report.problems)
        start += len(event) + 1


def test_deleting_any_event_fails_and_names_its_index(exported, tmp_path):
    header, events = _lines(exported())
    for index in range(len(events)):
        report = _verify(_write(tmp_path / "deleted.jsonl", header, events[:index] + events[index + 1 :]))
        assert not report.ok
        assert report.first_bad_index == index, (index, report.problems)


def test_reordering_two_events_fails_and_names_the_first_moved(exported, tmp_path):
    header, events = _lines(exported())
    for index in range(len(events) - 1):
        swapped = list(events)
        swapped[index], swapped[index + 1] = swapped[index + 1], swapped[index]
        report = _verify(_write(tmp_path / "swapped.jsonl", header, swapped))
        assert not report.ok
        assert report.first_bad_index == index


def test_inserting_a_well_formed_event_fails_and_names_its_position(exported, tmp_path):
    header, events = _lines(exported())
    for index in range(len(events) + 1):
        forged = json.loads(events[min(index, len(events) - 1)])
        forged.update(index=index, action="asset.destroy", summary={"note": "挿入"})
        forged["prev_hash"] = hashlib.sha256(events[index - 1]).hexdigest() if index else ""
        report = _verify(
            _write(
                tmp_path / "inserted.jsonl",
                header,
                [*events[:index], canonical_json(forged), *events[index:]],
            )
        )
        assert not report.ok
        assert report.first_bad_index == index, (index, report.problems)


def test_a_truncated_export_names_the_first_missing_event(exported, tmp_path):
    header, events = _lines(exported())
    report = _verify(_write(tmp_path / "short.jsonl", header, events[:-3]))
    assert not report.ok
    assert report.first_bad_index == len(events) - 3


def test_a_tree_head_changed_in_the_file_fails_its_signature(exported, tmp_path):
    header_line, events = _lines(exported())
    header = json.loads(header_line)
    header["tree_head"]["size"] -= 1
    report = _verify(_write(tmp_path / "resized.jsonl", json.dumps(header).encode(), events[:-1]))
    assert not report.signature_ok
    assert "signature" in {p.code for p in report.problems}


def test_an_export_re_signed_with_another_key_fails_against_the_deployment_key(exported, tmp_path):
    header_line, events = _lines(exported())
    header = json.loads(header_line)
    events[1] = events[1].replace(b'"actor_label":"sekisho-admin"', b'"actor_label":"somebody-else"')
    # The forger rebuilds the chain and the tree, signs with their own key and ships that key in the file.
    prev = ""
    rebuilt = []
    for event in events:
        body = json.loads(event)
        body["prev_hash"] = prev
        rebuilt.append(canonical_json(body))
        prev = hashlib.sha256(rebuilt[-1]).hexdigest()
    forger = Ed25519PrivateKey.generate()
    head = signing.TreeHead.from_dict(header["tree_head"])
    root = merkle.root_of_leaf_hashes([merkle.leaf_hash(e) for e in rebuilt])
    forged_head = signing.sign(
        signing.TreeHead(head.stream, head.size, root.hex(), prev, head.timestamp_ms), forger
    )
    header["tree_head"] = forged_head.to_dict()
    header["public_key"]["base64"] = signing.public_key_b64(forger.public_key())
    path = _write(tmp_path / "resigned.jsonl", canonical_json(header), rebuilt)

    report = _verify(path)  # with the deployment's key, as an inspector should
    assert not report.ok
    assert [p.code for p in report.problems] == ["signature"]
    assert any("指定された鍵と異なります" in w for w in report.warnings)

    trusting = verify_export(path)  # only the key in the file: consistent in itself, and says so loudly
    assert trusting.ok and trusting.key_from_file
    assert any("--pubkey" in w for w in trusting.warnings)


def test_pinned_heads_from_earlier_exports_are_checked(world, exported, tmp_path):
    early = exported("early.jsonl")
    grow(world.contract, world.manager, 25)
    late = exported("late.jsonl")
    early_head = signing.TreeHead.from_dict(json.loads(_lines(early)[0])["tree_head"])
    report = _verify(late, pinned=[early_head])
    assert report.ok and report.pins_checked == 1

    # A head the orderer saw, signed by the deployment, whose root the later log no longer has.
    rewritten = signing.sign(
        signing.TreeHead(
            early_head.stream, early_head.size, "00" * 32, early_head.head_hash, early_head.timestamp_ms
        ),
        keys.signing_key(),
    )
    report = _verify(late, pinned=[rewritten])
    assert [p.code for p in report.problems] == ["pin_mismatch"]

    # A head of a longer log, signed before this export was made: the export lost events.
    late_head = signing.TreeHead.from_dict(json.loads(_lines(late)[0])["tree_head"])
    longer = signing.sign(
        signing.TreeHead(
            late_head.stream, late_head.size + 10, "11" * 32, "22" * 32, late_head.timestamp_ms - 1
        ),
        keys.signing_key(),
    )
    report = _verify(late, pinned=[longer])
    assert [p.code for p in report.problems] == ["pin_rollback"]

    # A head newer than the export cannot be checked by it, and the report says so.
    newer = signing.sign(
        signing.TreeHead(
            late_head.stream, late_head.size + 10, "11" * 32, "22" * 32, late_head.timestamp_ms + 1
        ),
        keys.signing_key(),
    )
    report = _verify(late, pinned=[newer])
    assert report.ok and report.pins_checked == 0 and report.warnings

    # Heads of another contract, or not signed by the deployment, are refused.
    other = services.sign_tree_head(world.other_contract, acting_user=world.outsider).signed()
    foreign = signing.sign(early_head, Ed25519PrivateKey.generate())
    report = _verify(late, pinned=[other, foreign])
    assert [p.code for p in report.problems] == ["pin_stream", "pin_signature"]


def test_verification_in_batches_matches_the_reference_root_and_pinned_roots(tmp_path):
    key = Ed25519PrivateKey.generate()
    count = (1 << 16) + 1234  # more than one batch of 65,536 leaves, and a partial one
    lines = synthetic_export(tmp_path / "big.jsonl", count, key)
    leaves = [merkle.leaf_hash(x) for x in lines]
    pins = []
    for size in (1, 65_535, 65_536, 65_537, count):
        root = merkle.root_of_leaf_hashes(leaves[:size])
        head_hash = hashlib.sha256(lines[size - 1]).hexdigest()
        pins.append(signing.sign(signing.TreeHead("contract:99", size, root.hex(), head_hash, 500), key))
    report = verify_export(tmp_path / "big.jsonl", public_key=key.public_key(), pinned=pins)
    assert report.ok, report.problems
    assert report.pins_checked == 5
    assert report.root_hash == merkle.root_of_leaf_hashes(leaves).hex()


def _run_plain_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "SEKISHO", "DATABASE"))}
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_the_verifier_imports_nothing_from_django(exported):
    path = exported()
    result = _run_plain_python(
        "import sys\n"
        "from sekisho.audit.verify import verify_export\n"
        "report = verify_export(sys.argv[1])\n"
        "assert report.ok, report.problems\n"
        "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "assert not loaded, loaded\n"
        "print('ok')\n",
        str(path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_verifier_runs_as_a_plain_module_and_exits_non_zero_naming_the_event(
    exported, pubkey_file, tmp_path
):
    header, events = _lines(exported())
    events[2] = events[2].replace(b'"index":2', b'"index":2 ')
    bad = _write(tmp_path / "bad.jsonl", header, events)
    code = "import sys\nfrom sekisho.audit.verify import main\nsys.exit(main(sys.argv[1:]))\n"
    result = _run_plain_python(code, str(bad), "--pubkey", str(pubkey_file))
    assert result.returncode == 1
    assert "最初の不正なイベント: 連番 2" in result.stdout
    unreadable = _run_plain_python(code, str(tmp_path / "missing.jsonl"))
    assert unreadable.returncode == 2
