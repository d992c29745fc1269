"""``sekisho audit``: the tamper-evident log from the command line.

  verify EXPORT [--pubkey KEY] [--pinned HEAD…]    offline check of an export (no database is touched)
  export CONTRACT --as USER [-o FILE]               export for an inspection (events + signed head + key)
  sign --due                                        the periodic job (cron): sign logs that grew
  sign CONTRACT --as USER [--reason inspection]     sign a contract's log now; prints the head as JSON
  prove inclusion CONTRACT --index I [--tree-size N] --as USER
  prove consistency CONTRACT --first M [--second N] --as USER
  pin CONTRACT HEAD --as USER                       record a head the orderer has seen (the witness)
  witness CONTRACT --as USER                        prove every pinned head against the latest; fails loudly
  pubkey [-o FILE]                                  the public key (PEM) that verifies tree heads
  check [--stream KEY]                              re-hash whole logs and compare with everything stored

Acting on a contract needs ``--as`` a member whose role allows it: the CLI gets the same rules as the API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sekisho.audit import verify as verifier


class Command(BaseCommand):
    help = "Tamper-evident audit log: verify, export, sign, prove, pin, witness, pubkey, check."
    # `verify` must run with nothing but the export: no system checks (they may need a configured deployment).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        verifier.build_parser(sub.add_parser("verify", help="verify an export offline"))

        export = sub.add_parser("export", help="export a contract's log for an inspection")
        export.add_argument("contract", help="contract number or id")
        export.add_argument("--as", dest="username", required=True)
        export.add_argument("-o", "--output", help="file to write (default: the suggested name, here)")

        sign = sub.add_parser("sign", help="sign tree heads")
        sign.add_argument("contract", nargs="?", help="contract number or id")
        sign.add_argument("--due", action="store_true", help="sign every log that grew (the periodic job)")
        sign.add_argument("--as", dest="username")
        sign.add_argument("--reason", default="request", choices=["request", "inspection"])
        sign.add_argument("--note", default="")

        prove = sub.add_parser("prove", help="inclusion or consistency proof")
        kind = prove.add_subparsers(dest="kind", required=True)
        inclusion = kind.add_parser("inclusion")
        inclusion.add_argument("contract")
        inclusion.add_argument("--index", type=int, required=True)
        inclusion.add_argument("--tree-size", type=int)
        inclusion.add_argument("--as", dest="username", required=True)
        consistency = kind.add_parser("consistency")
        consistency.add_argument("contract")
        consistency.add_argument("--first", type=int, required=True)
        consistency.add_argument("--second", type=int)
        consistency.add_argument("--as", dest="username", required=True)

        pin = sub.add_parser("pin", help="record a tree head the orderer has seen")
        pin.add_argument("contract")
        pin.add_argument("head", help="tree head JSON, or an earlier export")
        pin.add_argument("--as", dest="username", required=True)
        pin.add_argument("--note", default="")

        witness = sub.add_parser("witness", help="check every pinned head against the latest signed head")
        witness.add_argument("contract")
        witness.add_argument("--as", dest="username", required=True)

        pubkey = sub.add_parser("pubkey", help="print the public key (PEM)")
        pubkey.add_argument("-o", "--output")

        check = sub.add_parser("check", help="re-hash whole logs and compare with the stored state")
        check.add_argument("--stream", help="one stream key (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "verify":
            self._verify(options)
            return
        from sekisho.core.errors import SekishoError

        try:
            getattr(self, f"_{options['subcommand']}")(options)
        except SekishoError as exc:
            raise CommandError(str(exc)) from exc

    # -- offline ---------------------------------------------------------------------------------------------

    def _verify(self, options: dict[str, Any]) -> None:
        code = verifier.run(options["export"], options["pubkey"], options["pinned"], self.stdout)
        if code:
            raise CommandError("監査ログの検証に失敗しました。", returncode=code)

    # -- acting on the database ------------------------------------------------------------------------------

    def _user(self, options: dict[str, Any]) -> Any:
        from sekisho.core.models import User

        username = options.get("username")
        if not username:
            raise CommandError("--as で操作する利用者を指定してください。")
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"利用者が見つかりません: {username}")
        return user

    def _contract(self, ref: str, user: Any) -> Any:
        from sekisho.core import policy
        from sekisho.core.models import Contract

        contract = Contract.objects.filter(number=ref).first()
        if contract is None and ref.isdigit():
            contract = Contract.objects.filter(pk=int(ref)).first()
        if contract is None:
            raise CommandError(f"契約が見つかりません: {ref}")
        # Outsiders learn nothing, as in the API.
        policy.require(user, "contract.view", contract)
        return contract

    def _json(self, data: Any) -> None:
        self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))

    def _export(self, options: dict[str, Any]) -> None:
        from sekisho.audit import export, services

        user = self._user(options)
        result = services.export_contract(self._contract(options["contract"], user), acting_user=user)
        path = Path(options["output"] or result.filename)
        with path.open("wb") as fh:
            for line in export.export_lines(result):
                fh.write(line)
        head = result.tree_head
        self.stderr.write(f"{head.size}件のイベントを書き出しました: {path}（ルート {head.root_hash[:16]}…）")
        self.stdout.write(str(path))

    def _sign(self, options: dict[str, Any]) -> None:
        from sekisho.audit import services

        if options["due"]:
            heads = services.sign_due_tree_heads()
            for head in heads:
                self.stdout.write(f"{head.stream.key}: {head.size}件 ルート {head.root_hash}")
            self.stderr.write(f"{len(heads)}件のツリーヘッドに署名しました。")
            return
        if not options["contract"]:
            raise CommandError("契約を指定するか --due を付けてください。")
        user = self._user(options)
        head = services.sign_tree_head(
            self._contract(options["contract"], user),
            acting_user=user,
            reason=options["reason"],
            note=options["note"],
        )
        self._json(head.signed().to_dict())

    def _prove(self, options: dict[str, Any]) -> None:
        from sekisho.audit import proofs, selectors
        from sekisho.core import policy

        user = self._user(options)
        contract = self._contract(options["contract"], user)
        policy.require(user, "audit.view", contract)
        stream = selectors.contract_stream(contract)
        latest = proofs.latest_head(stream)
        default_size = latest.size if latest is not None else stream.size
        if options["kind"] == "inclusion":
            size = options["tree_size"] if options["tree_size"] is not None else default_size
            proof = proofs.inclusion(stream, options["index"], size)
            self._json(
                {
                    "index": proof.index,
                    "tree_size": proof.tree_size,
                    "event": proof.event.decode("utf-8"),
                    "leaf_hash": proof.leaf_hash.hex(),
                    "proof": [h.hex() for h in proof.proof],
                    "root_hash": proof.root_hash.hex(),
                }
            )
        else:
            second = options["second"] if options["second"] is not None else default_size
            cproof = proofs.consistency(stream, options["first"], second)
            self._json(
                {
                    "first": cproof.first,
                    "second": cproof.second,
                    "first_root": cproof.first_root.hex(),
                    "second_root": cproof.second_root.hex(),
                    "proof": [h.hex() for h in cproof.proof],
                }
            )

    def _pin(self, options: dict[str, Any]) -> None:
        from sekisho.audit import proofs, services

        user = self._user(options)
        contract = self._contract(options["contract"], user)
        try:
            head = verifier.read_head_file(options["head"])
        except (verifier.Unreadable, OSError) as exc:
            raise CommandError(str(exc)) from exc
        pin = services.pin_tree_head(contract, acting_user=user, head=head, note=options["note"])
        status = next(s for s in proofs.witness(pin.stream).pins if s.pin.pk == pin.pk)
        self.stdout.write(f"記録しました: {pin.size}件 ルート {pin.root_hash} — {status.message}")
        if not status.ok:
            raise CommandError(status.message, returncode=1)

    def _witness(self, options: dict[str, Any]) -> None:
        from sekisho.audit import proofs, selectors
        from sekisho.core import policy

        user = self._user(options)
        contract = self._contract(options["contract"], user)
        policy.require(user, "audit.view", contract)
        report = proofs.witness(selectors.contract_stream(contract))
        current = report.current
        self.stdout.write(
            f"最新の署名付きツリーヘッド: {current.size}件 ルート {current.root_hash}"
            if current
            else "署名付きツリーヘッドはまだありません。"
        )
        for status in report.pins:
            mark = "OK" if status.ok else "!! 不整合 !!"
            self.stdout.write(f"  [{mark}] 記録済み {status.pin.size}件: {status.message}")
        if not report.ok:
            for failure in report.failures:
                self.stderr.write(self.style.ERROR(f"!! {failure}"))
            raise CommandError("記録済みツリーヘッドとの整合性を証明できません。", returncode=1)
        self.stdout.write(f"{len(report.pins)}件の記録済みツリーヘッドすべてと整合しています。")

    def _pubkey(self, options: dict[str, Any]) -> None:
        from sekisho.audit import keys, signing

        pem = signing.public_key_pem(keys.public_key())
        if options["output"]:
            Path(options["output"]).write_text(pem, encoding="ascii")
            self.stderr.write(f"公開鍵を書き出しました: {options['output']}（鍵ID {keys.key_id()}）")
        else:
            self.stdout.write(pem.rstrip("\n"))

    def _check(self, options: dict[str, Any]) -> None:
        from sekisho.audit import proofs
        from sekisho.audit.models import AuditStream

        streams = AuditStream.objects.order_by("key")
        if options["stream"]:
            streams = streams.filter(key=options["stream"])
        bad = 0
        for stream in streams:
            problems = proofs.check_stream(stream)
            self.stdout.write(f"{stream.key}: {stream.size}件 {'OK' if not problems else 'NG'}")
            for problem in problems:
                bad += 1
                self.stderr.write(self.style.ERROR(f"  !! {problem}"))
        if bad:
            raise CommandError(f"{bad}件の不整合があります。", returncode=1)
