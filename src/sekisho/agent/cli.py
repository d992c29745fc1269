"""``sekisho agent enroll | report | status | open`` (also ``python -m sekisho.agent``).

    enroll --server URL --code CODE   make the device key (first time) and register it with the one-time code
    report [--dry-run]                read the security facts of this PC, sign them and send them
    status                            what the server says: may this PC touch the information, and if not, why
    open                              open the browser with a one-time link that binds the session to this PC

Exit codes: 0 fine, 1 error, 3 the report was accepted but this PC fails the security checks (R2.7イ).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import webbrowser
from collections.abc import Sequence
from typing import Any

from . import __version__, config
from .client import AgentClient, AgentError
from .collectors import collect_facts
from .signing import ENROLL_PREFIX, fingerprint, public_key_text

EXIT_OK, EXIT_ERROR, EXIT_FAILING = 0, 1, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sekisho agent", description="関所 端末エージェント")
    parser.add_argument("--json", action="store_true", help="結果をJSONで出力する")
    sub = parser.add_subparsers(dest="command", required=True)
    enroll = sub.add_parser("enroll", help="この端末を登録する（一回限りの登録コードを使う）")
    enroll.add_argument(
        "--server", required=True, help="関所サーバーのURL（例: https://sekisho.example.lg.jp）"
    )
    enroll.add_argument("--code", required=True, help="情報管理責任者が発行した登録コード")
    enroll.add_argument("--ca-file", default="", help="サーバー証明書を検証するCA証明書（PEM）")
    enroll.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="結果をJSONで出力する")
    for name, text in (
        ("report", "セキュリティ状態を収集して送信する"),
        ("status", "この端末の承認・セキュリティ状態をサーバーに確認する"),
        ("open", "この端末に結び付いたブラウザのログインを開く"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--device", help="端末ID（複数の契約で登録している場合）")
        cmd.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="結果をJSONで出力する"
        )
        if name == "report":
            cmd.add_argument("--dry-run", action="store_true", help="送信せずに収集結果を表示する")
        if name == "open":
            cmd.add_argument("--no-browser", action="store_true", help="ブラウザを開かずURLを表示する")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        handler = {"enroll": enroll, "report": report, "status": status, "open": open_browser}[args.command]
        return handler(args)
    except (AgentError, config.ConfigError) as exc:
        if args.json:
            payload = {"error": getattr(exc, "code", "error"), "clause": getattr(exc, "clause", None)}
            print(json.dumps({**payload, "message": str(exc)}, ensure_ascii=False))
        else:
            print(f"エラー: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _out(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2) if args.json else text)


def _client(cfg: config.AgentConfig, enrollment: config.Enrollment) -> AgentClient:
    return AgentClient(enrollment.server, config.load_key(cfg), enrollment.device, ca_file=cfg.ca_file)


def enroll(args: argparse.Namespace) -> int:
    cfg = config.load()
    if args.ca_file:
        cfg.ca_file = args.ca_file
    key = config.load_or_create_key(cfg)
    public = public_key_text(key.public_key())
    facts = collect_facts()
    client = AgentClient(args.server, key, ENROLL_PREFIX + fingerprint(public), ca_file=cfg.ca_file)
    answer = client.request(
        "POST",
        "/agent/enroll",
        {
            "code": args.code,
            "public_key": public,
            "hostname": facts.get("hostname", ""),
            "platform": facts.get("platform", ""),
            "os_name": facts.get("os_name", ""),
            "os_version": facts.get("os_version", ""),
            "agent_version": __version__,
        },
    )
    enrollment = config.Enrollment(
        server=args.server.rstrip("/"),
        device=answer["device"],
        name=answer.get("name", ""),
        contract_number=answer.get("contract_number", ""),
        contract_title=answer.get("contract_title", ""),
        enrolled_at=answer.get("enrolled_at", ""),
    )
    cfg.add(enrollment)
    config.save(cfg)
    _out(
        args,
        {**answer, "key_fingerprint": fingerprint(public), "home": str(cfg.home)},
        f"登録しました: {enrollment.name}（端末ID {enrollment.device}）\n"
        f"契約: {enrollment.contract_number} {enrollment.contract_title}\n"
        f"鍵指紋: {fingerprint(public)}\n"
        f"次に `sekisho agent report` でセキュリティ状態を送信してください。",
    )
    return EXIT_OK


def report(args: argparse.Namespace) -> int:
    facts = collect_facts()
    collected_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if args.dry_run:
        _out(args, facts, json.dumps(facts, ensure_ascii=False, indent=2))
        return EXIT_OK
    cfg = config.load()
    enrollment = cfg.find(args.device)
    answer = _client(cfg, enrollment).request(
        "POST", "/agent/report", {"collected_at": collected_at, "agent_version": __version__, "facts": facts}
    )
    lines = [f"送信しました（{enrollment.name} / {enrollment.contract_number}）。"]
    lines += _verdict_lines(answer)
    _out(args, answer, "\n".join(lines))
    return EXIT_OK if answer.get("passed") else EXIT_FAILING


def status(args: argparse.Namespace) -> int:
    cfg = config.load()
    enrollment = cfg.find(args.device)
    answer = _client(cfg, enrollment).request("GET", "/agent/status")
    lines = [
        f"端末: {answer['name']}（{answer['status_label']}）",
        f"契約: {enrollment.contract_number} {enrollment.contract_title}",
    ]
    if answer.get("approved_until"):
        lines.append(f"承認期限: {answer['approved_until']}")
    if answer.get("latest_report_at"):
        lines.append(f"最新の報告: {answer['latest_report_at']}")
    lines += _verdict_lines(answer)
    _out(args, answer, "\n".join(lines))
    return EXIT_OK if answer.get("access") else EXIT_FAILING


def open_browser(args: argparse.Namespace) -> int:
    cfg = config.load()
    enrollment = cfg.find(args.device)
    answer = _client(cfg, enrollment).request("POST", "/agent/login-link", {})
    url = enrollment.server + answer["path"]
    if not args.no_browser:
        webbrowser.open(url)
    _out(
        args,
        {**answer, "url": url},
        f"ブラウザで開いてください（{answer['expires_in']}秒間有効、一回限り）:\n{url}",
    )
    return EXIT_OK


def _verdict_lines(answer: dict[str, Any]) -> list[str]:
    if answer.get("access", answer.get("passed")):
        return ["判定: 適合（情報を扱えます）"]
    lines = ["判定: 不適合（この端末では情報を扱えません）"]
    if answer.get("clause"):
        lines[0] += f" [{answer['clause']}]"
    for failure in answer.get("failures", []):
        lines.append(f"  - {failure['message']}")
    if answer.get("message") and not answer.get("failures"):
        lines.append(f"  - {answer['message']}")
    return lines
