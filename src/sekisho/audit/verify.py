"""The offline verifier of audit log exports: ``sekisho audit verify EXPORT [--pubkey KEY] [--pinned HEAD…]``,
or, on a machine with only Python and ``cryptography``, ``python -m sekisho.audit.verify``.

It needs nothing but the file: no database, no settings, no server — this module imports nothing from Django
(a test keeps it that way). Messages are Japanese literals for the same reason (no Django translation here).

Export format (JSON Lines, UTF-8):
  line 1       a header: format, stream, contract, the signed tree head, the public key
  line 2 …     one event per line, exactly its canonical bytes; leaf i = SHA-256(0x00 ‖ line bytes without "\\n")

What is checked, fastest first:
  1. the tree head's signature (with --pubkey if given, else with the key in the file, and a warning);
  2. every leaf and the Merkle root over them against the signed root; the number of events; the signed hash
     of the last event;
  3. every pinned head: signed by the same key, same stream, and its root equals the root of the export's
     first *size* events (a head newer than the export is reported, not silently skipped);
  4. only if something failed: a second pass that names the first bad event — malformed or non-canonical
     lines, an index that is not its position (deleted, inserted, reordered events), and the hash chain walked
     back from the signed last-event hash, so that a changed byte is pinned to the event that holds it.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import merkle, signing
from .canonical import canonical_json

EXPORT_FORMAT = "sekisho-audit-export"
EXPORT_VERSION = 1
LEAF_RULE = "SHA-256(0x00 || event line without its newline)"
_BATCH_LEVEL = 16  # leaves are hashed 65,536 at a time: constant memory, list-comprehension speed


@dataclass
class Problem:
    code: str
    message: str
    index: int | None = None


@dataclass
class Report:
    path: str
    stream: str = ""
    signed_size: int = 0
    signed_at: str = ""
    events: int = 0
    root_hash: str = ""
    key_id: str = ""
    key_from_file: bool = False
    signature_ok: bool = False
    pins_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_index(self) -> int | None:
        indexes = [p.index for p in self.problems if p.index is not None]
        return min(indexes) if indexes else None

    def fail(self, code: str, message: str, index: int | None = None) -> None:
        self.problems.append(Problem(code, message, index))


class Writer(Protocol):
    def write(self, text: str, /) -> Any: ...


class Unreadable(Exception):
    """The file is not an export at all (or cannot be read)."""


# --- Reading ---------------------------------------------------------------------------------------------------


def read_header(fh: IO[bytes]) -> dict[str, Any]:
    first = fh.readline()
    try:
        header = json.loads(first.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Unreadable("1行目が監査ログエクスポートのヘッダーではありません。") from exc
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        raise Unreadable("Sekisho の監査ログエクスポートではありません（format が違います）。")
    if header.get("version") != EXPORT_VERSION:
        raise Unreadable(f"対応していない形式の版です: {header.get('version')!r}")
    return header


def read_head_file(path: str | Path) -> signing.TreeHead:
    """A pinned head: a tree head as JSON (from the API or `sekisho audit sign`), or an earlier export."""
    data = Path(path).read_bytes()
    first = data.split(b"\n", 1)[0]
    try:
        obj = json.loads(first if first.strip().startswith(b"{") and first.strip().endswith(b"}") else data)
    except ValueError as exc:
        raise Unreadable(f"{path}: ツリーヘッドのJSONとして読めません。") from exc
    if isinstance(obj, dict) and obj.get("format") == EXPORT_FORMAT:
        obj = obj.get("tree_head")
    if isinstance(obj, dict) and isinstance(obj.get("tree_head"), dict):
        obj = obj["tree_head"]
    try:
        return signing.TreeHead.from_dict(obj)
    except ValueError as exc:
        raise Unreadable(f"{path}: {exc}") from exc


def _batches(fh: IO[bytes]) -> Iterator[list[bytes]]:
    size = 1 << _BATCH_LEVEL
    while True:
        lines = list(islice(fh, size))
        if not lines:
            return
        if not lines[-1].endswith(b"\n"):  # the last line of a file may lack its newline
            lines[-1] += b"\n"
        yield lines


@dataclass
class _Scan:
    events: int
    root: bytes
    last_line: bytes | None
    roots_at: dict[int, bytes]


def _scan(fh: IO[bytes], pin_sizes: Sequence[int]) -> _Scan:
    """One pass over the events: leaf hashes → compact range → root, plus roots at the pinned sizes."""
    frontier: list[bytes] = []
    total = 0
    pending = sorted({s for s in pin_sizes if s > 0})
    roots_at: dict[int, bytes] = {0: merkle.EMPTY_ROOT}
    last_line: bytes | None = None
    sha = hashlib.sha256
    for lines in _batches(fh):
        leaves = [sha(b"\x00" + line[:-1]).digest() for line in lines]
        while pending and pending[0] <= total + len(leaves):
            size = pending.pop(0)
            # total is a multiple of the batch, so the frontier's subtrees are all larger than these.
            roots_at[size] = merkle.fold_perfect(
                frontier + merkle.perfect_hashes_of(leaves[: size - total], 0)
            )
        if len(leaves) == 1 << _BATCH_LEVEL:
            total, _ = merkle.append_subtree(frontier, total, _BATCH_LEVEL, merkle.subtree_hash(leaves))
        else:
            parts = merkle.perfect_hashes_of(leaves, 0)
            for level, h in zip(merkle.frontier_levels(len(leaves)), parts, strict=True):
                total, _ = merkle.append_subtree(frontier, total, level, h)
        last_line = lines[-1][:-1]
    return _Scan(total, merkle.frontier_root(frontier), last_line, roots_at)


# --- Verifying -------------------------------------------------------------------------------------------------


def _open(source: str | Path | bytes) -> IO[bytes]:
    # A 1 MiB buffer halves the time spent splitting a large export into lines.
    return io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb", buffering=1 << 20)


def verify_export(
    source: str | Path | bytes,
    *,
    public_key: Ed25519PublicKey | None = None,
    pinned: Sequence[signing.TreeHead] = (),
) -> Report:
    """Verify an export given as a path (streamed, constant memory) or as the file's bytes."""
    path = "<bytes>" if isinstance(source, bytes) else str(source)
    report = Report(path=path)
    try:
        with _open(source) as fh:
            header = read_header(fh)
            head, key = _check_head(header, public_key, report)
            if head is None:
                return report
            scan = _scan(fh, [p.size for p in pinned])
    except OSError as exc:
        raise Unreadable(f"{path}: 読み込めません（{exc.strerror}）。") from exc
    report.events = scan.events
    report.root_hash = scan.root.hex()
    suspicious = False
    if scan.events != head.size:
        report.fail(
            "count", f"署名されたイベント数は{head.size}件ですが、ファイルには{scan.events}件あります。"
        )
        suspicious = True
    elif scan.root.hex() != head.root_hash:
        report.fail("root", "イベントから計算したルートハッシュが署名されたルートハッシュと一致しません。")
        suspicious = True
    last_hash = hashlib.sha256(scan.last_line).hexdigest() if scan.last_line is not None else ""
    if scan.events == head.size and last_hash != head.head_hash:
        report.fail("head", "最後のイベントのハッシュが署名された値と一致しません。", max(scan.events - 1, 0))
        suspicious = True
    if key is not None:
        _check_pins(pinned, head, key, scan, report)
    if suspicious:
        _locate(source, head, report)
    return report


def _check_head(
    header: dict[str, Any], public_key: Ed25519PublicKey | None, report: Report
) -> tuple[signing.TreeHead | None, Ed25519PublicKey | None]:
    try:
        head = signing.TreeHead.from_dict(header.get("tree_head"))
    except ValueError as exc:
        report.fail("tree_head", f"ヘッダーのツリーヘッドが読めません: {exc}")
        return None, None
    report.stream = head.stream
    report.signed_size = head.size
    report.signed_at = head.timestamp.isoformat(timespec="seconds")
    if header.get("stream") != head.stream:
        report.fail("stream", "ヘッダーのストリームとツリーヘッドのストリームが一致しません。")
    embedded = None
    try:
        embedded = signing.load_public_key(str((header.get("public_key") or {}).get("base64", "")))
    except (signing.BadKey, ValueError, AttributeError):
        embedded = None
    key = public_key
    if key is None:
        key = embedded
        report.key_from_file = True
        report.warnings.append(
            "署名はファイル内の公開鍵だけで確認しました。ファイルごと差し替えられていないことを確かめるには、"
            "配備から入手した公開鍵を --pubkey で指定してください。"
        )
    if key is None:
        report.fail("public_key", "公開鍵がありません（ファイルにも --pubkey にも）。")
        return head, None
    report.key_id = signing.key_id(key)
    if embedded is not None and public_key is not None and signing.key_id(embedded) != report.key_id:
        report.warnings.append(
            f"ファイル内の公開鍵（鍵ID {signing.key_id(embedded)[:16]}…）は指定された鍵と異なります。"
        )
    report.signature_ok = signing.signature_is_valid(head, key)
    if not report.signature_ok:
        report.fail(
            "signature",
            f"ツリーヘッドの署名が鍵ID {report.key_id[:16]}… の鍵で検証できません"
            f"（ツリーヘッドの鍵ID {head.key_id[:16] or '-'}…）。",
        )
    return head, key


def _check_pins(
    pinned: Sequence[signing.TreeHead],
    head: signing.TreeHead,
    key: Ed25519PublicKey,
    scan: _Scan,
    report: Report,
) -> None:
    for pin in pinned:
        label = f"記録済みツリーヘッド（{pin.size}件、{pin.timestamp.isoformat(timespec='seconds')}）"
        if pin.stream != head.stream:
            report.fail("pin_stream", f"{label}は別のストリーム（{pin.stream}）のものです。")
            continue
        if not signing.signature_is_valid(pin, key):
            report.fail("pin_signature", f"{label}の署名がこの鍵で検証できません。")
            continue
        if pin.size > scan.events:
            if pin.timestamp_ms <= head.timestamp_ms:
                report.fail(
                    "pin_rollback",
                    f"{label}より後に署名されたエクスポートなのに、イベントが{scan.events}件しかありません。"
                    "イベントが削除されたか、古い状態に戻されています。",
                )
            else:
                report.warnings.append(f"{label}はこのエクスポートより新しいため照合していません。")
            continue
        report.pins_checked += 1
        if scan.roots_at[pin.size].hex() != pin.root_hash:
            report.fail(
                "pin_mismatch",
                f"{label}のルートハッシュが、このエクスポートの先頭{pin.size}件から計算した値と一致しません。"
                "記録後に履歴が書き換えられています。",
            )


def _locate(source: str | Path | bytes, head: signing.TreeHead, report: Report) -> None:
    """Second pass, only after a failure: name the first event that does not belong."""
    hashes: list[str] = []
    links: list[str | None] = []
    with _open(source) as fh:
        fh.readline()
        for position, raw in enumerate(fh):
            line = raw[:-1] if raw.endswith(b"\n") else raw
            hashes.append(hashlib.sha256(line).hexdigest())
            links.append(_check_line(line, position, head, report))
    count = len(hashes)
    if count < head.size:
        report.fail(
            "missing", f"連番{count}以降のイベントがありません（署名されたのは{head.size}件）。", count
        )
        return
    expected: str | None = head.head_hash
    for position in range(count - 1, -1, -1):
        if hashes[position] != expected:
            what = (
                "署名されたイベント数を超える余分な行です"
                if position >= head.size
                else "内容が署名された記録と一致しません"
            )
            report.fail("chain", f"連番{position}のイベント: {what}。", position)
            return
        expected = links[position]
        if expected is None:
            return
    if expected != "":
        report.fail("chain", "連番0のイベントが先行イベントを参照しています。", 0)


def _check_line(line: bytes, position: int, head: signing.TreeHead, report: Report) -> str | None:
    try:
        event = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        report.fail("malformed", f"連番{position}の行がJSONとして読めません。", position)
        return None
    if not isinstance(event, dict):
        report.fail("malformed", f"連番{position}の行がイベントではありません。", position)
        return None
    if canonical_json(event) != line:
        report.fail(
            "not_canonical", f"連番{position}の行が正規形ではありません（書き換えられています）。", position
        )
    index = event.get("index")
    if index != position:
        report.fail(
            "index",
            f"{position}番目の行に連番{index}のイベントがあります（イベントの削除・挿入・並べ替え）。",
            position,
        )
    if event.get("stream") != head.stream:
        report.fail("stream", f"連番{position}のイベントは別のストリームのものです。", position)
    link = event.get("prev_hash")
    return link if isinstance(link, str) else None


# --- Command line ----------------------------------------------------------------------------------------------


def format_report(report: Report) -> str:
    lines = [f"監査ログエクスポートの検証: {report.path}"]
    if report.stream:
        lines.append(
            f"  ストリーム: {report.stream}（署名されたイベント数 {report.signed_size}件、ファイル {report.events}件）"
        )
        lines.append(f"  署名時刻: {report.signed_at}（UTC）")
    if report.key_id:
        source = "ファイル内の鍵" if report.key_from_file else "指定された鍵"
        lines.append(
            f"  署名: {'OK' if report.signature_ok else 'NG'}（{source}、鍵ID {report.key_id[:16]}…）"
        )
    if report.root_hash:
        lines.append(f"  ルートハッシュ: {report.root_hash}")
    lines.append(f"  照合した記録済みツリーヘッド: {report.pins_checked}件")
    for warning in report.warnings:
        lines.append(f"  注意: {warning}")
    for problem in report.problems:
        lines.append(f"  不正: {problem.message}")
    if report.ok:
        lines.append("結果: 正常 — すべてのイベント、ルートハッシュ、署名を確認しました。")
    else:
        lines.append("結果: 不正 — このエクスポートは署名された監査ログと一致しません。")
        if report.first_bad_index is not None:
            lines.append(f"最初の不正なイベント: 連番 {report.first_bad_index}")
    return "\n".join(lines)


def run(export: str, pubkey: str | None, pinned: Sequence[str], out: Writer) -> int:
    """Verify and print; exit status 0 when the export holds, 1 when it does not, 2 when it cannot be read."""
    try:
        key = _read_key(pubkey) if pubkey else None
        heads = [read_head_file(p) for p in pinned]
        report = verify_export(export, public_key=key, pinned=heads)
    except (Unreadable, signing.BadKey, OSError, ValueError) as exc:
        out.write(f"検証できません: {exc}\n")
        return 2
    out.write(format_report(report) + "\n")
    return 0 if report.ok else 1


def _read_key(value: str) -> Ed25519PublicKey:
    """--pubkey names a file (PEM, or the key in base64/hex), or is the base64/hex key itself."""
    path = Path(value)
    if path.is_file():
        return signing.load_public_key(path.read_bytes())
    return signing.load_public_key(value)


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("export", help="エクスポートファイル（JSON Lines）")
    parser.add_argument(
        "--pubkey", help="配備の公開鍵: PEMファイル、または base64/hex の32バイト（ファイルか値）"
    )
    parser.add_argument(
        "--pinned",
        nargs="+",
        default=[],
        metavar="HEAD",
        help="記録済みツリーヘッド（JSON、または以前のエクスポート）",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(argparse.ArgumentParser(prog="python -m sekisho.audit.verify"))
    args = parser.parse_args(argv)
    return run(args.export, args.pubkey, args.pinned, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
