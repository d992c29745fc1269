"""``sekisho vault``: the vault from the command line.

verify [--contract NUMBER] [--clean [--older-than HOURS]]
                                       stream every blob: authentication, size and recorded SHA-256; list
                                       blobs no row names and uploads that never completed (--clean removes
                                       them: they are ciphertext). Exit 1 if any object is damaged.
keys status [--contract NUMBER]        which contracts have a key, which were crypto-shredded
keys backup                            copy the key store to SEKISHO_VAULT_KEY_BACKUPS (run after changes,
                                       or from cron; new keys are copied at once anyway)
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sekisho.core.models import Contract


def _contract(value: str | None) -> Contract | None:
    if not value:
        return None
    contract = Contract.objects.filter(number=value).first()
    if contract is None and value.isdigit():
        contract = Contract.objects.filter(pk=int(value)).first()
    if contract is None:
        raise CommandError(f"契約が見つかりません: {value}")
    return contract


class Command(BaseCommand):
    help = "Vault: verify blobs, key store status and backup."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        verify = sub.add_parser("verify", help="check every blob of the vault")
        verify.add_argument("--contract", help="contract number or id (default: all)")
        verify.add_argument("--clean", action="store_true", help="remove orphaned blobs and partial uploads")
        verify.add_argument(
            "--older-than",
            type=float,
            default=24.0,
            metavar="HOURS",
            help="with --clean, only what is older than this (default 24: spares uploads in progress)",
        )
        keys = sub.add_parser("keys", help="the contract key store")
        keys_sub = keys.add_subparsers(dest="keys_command", required=True)
        status = keys_sub.add_parser("status")
        status.add_argument("--contract")
        keys_sub.add_parser("backup")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "verify":
            self._verify(_contract(options["contract"]), options["clean"], options["older_than"])
        elif options["keys_command"] == "status":
            self._status(_contract(options.get("contract")))
        else:
            self._backup()

    def _verify(self, contract: Contract | None, clean: bool, older_than: float) -> None:
        import datetime as dt

        from sekisho.vault.verification import verify_vault

        if older_than < 0:
            raise CommandError("--older-than は0以上にしてください。")
        report = verify_vault(contract=contract, clean=clean, grace=dt.timedelta(hours=older_than))
        for check in report.checked:
            obj = check.obj
            line = f"{check.status:9} {obj.contract.number} {obj.asset.ref} v{obj.version} {obj.uid} {obj.size} B"
            if check.status == "ok":
                self.stdout.write(line)
            elif check.status == "shredded":
                self.stdout.write(f"{line}  (暗号鍵削除済み)")
            else:
                self.stdout.write(f"{line}  {check.detail}")
        for orphan in report.orphans:
            self.stdout.write(
                f"orphan    {orphan}" + ("  (削除しました)" if orphan in report.removed else "")
            )
        for partial in report.partials:
            self.stdout.write(
                f"partial   {partial}" + ("  (削除しました)" if partial in report.removed else "")
            )
        counts = report.counts()
        summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "オブジェクトなし"
        self.stdout.write(
            f"検査: {len(report.checked)} 件（{summary}）; 孤立 {len(report.orphans)}; 未完了 {len(report.partials)}"
        )
        if report.problems:
            raise CommandError(f"破損・欠損のあるオブジェクトが {len(report.problems)} 件あります。")

    def _status(self, contract: Contract | None) -> None:
        from sekisho.vault.keystore import get_key_service

        keys = get_key_service()
        contracts = [contract] if contract else list(Contract.objects.order_by("number"))
        for c in contracts:
            status = keys.status(c.pk)
            detail = str(status.key_id or status.destroyed_at or "")
            self.stdout.write(f"{c.number}\t{status.state}\t{detail}")

    def _backup(self) -> None:
        from sekisho.vault.keystore import get_key_service

        done = get_key_service().backup()
        if not done:
            self.stdout.write("鍵保管庫のバックアップ先（SEKISHO_VAULT_KEY_BACKUPS）が設定されていません。")
        for location in done:
            self.stdout.write(f"backup: {location}")
