"""``sekisho ledger export|import``: the 情報管理台帳 as a file, through the same services as the API.

The command acts as a named member (``--as USERNAME``), not as the system account: exporting and importing a
contract's ledger are that member's acts, checked by the access policy and written to the contract's audit
trail under their name.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sekisho.core.errors import SekishoError
from sekisho.core.models import Contract, User
from sekisho.ledger import importer, xlsx_export


class Command(BaseCommand):
    help = (
        "情報管理台帳: `ledger export CONTRACT_NUMBER FILE.xlsx [--wareki] --as USERNAME`, "
        "`ledger import CONTRACT_NUMBER FILE.xlsx|FILE.csv --as USERNAME` (all rows or none)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        export = sub.add_parser("export", help="write the ledger as .xlsx")
        export.add_argument("contract", help="contract number")
        export.add_argument("file", help="the .xlsx to write ('-' for standard output)")
        export.add_argument("--wareki", action="store_true", help="dates in the Japanese era (令和8年6月1日)")
        export.add_argument("--as", dest="username", required=True, help="the member who exports")
        load = sub.add_parser("import", help="register every row of an .xlsx or .csv, or none")
        load.add_argument("contract", help="contract number")
        load.add_argument("file", help="the .xlsx or .csv to read")
        load.add_argument("--as", dest="username", required=True, help="the member who imports")

    def handle(self, *args: Any, **options: Any) -> None:
        contract = Contract.objects.filter(number=options["contract"]).first()
        if contract is None:
            raise CommandError(f"契約が見つかりません: {options['contract']}")
        user = User.objects.filter(username=options["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"利用者が見つかりません: {options['username']}")
        try:
            if options["subcommand"] == "export":
                self._export(contract, user, options["file"], wareki=options["wareki"])
            else:
                self._import(contract, user, options["file"])
        except SekishoError as exc:
            for error in getattr(exc, "row_errors", [])[: importer.MAX_REPORTED_ERRORS]:
                where = f"{error.row}行目" if error.row else ""
                clause = f" [{error.clause}]" if error.clause else ""
                self.stderr.write(f"{where}「{error.column or ''}」{clause} {error.message}")
            raise CommandError(str(exc)) from exc

    def _export(self, contract: Contract, user: User, path: str, *, wareki: bool) -> None:
        if path == "-":
            with tempfile.TemporaryFile() as buffer:
                count = xlsx_export.export_ledger(contract, acting_user=user, out=buffer, wareki=wareki)
                buffer.seek(0)
                self.stdout.buffer.write(buffer.read())  # type: ignore[attr-defined]
        else:
            # Written beside the target and renamed, so a failed export leaves no half file behind.
            target = Path(path)
            fd, partial = tempfile.mkstemp(dir=target.parent or Path(), suffix=".partial")
            try:
                with os.fdopen(fd, "w+b") as out:
                    count = xlsx_export.export_ledger(contract, acting_user=user, out=out, wareki=wareki)
                os.replace(partial, target)
            except BaseException:
                Path(partial).unlink(missing_ok=True)
                raise
        self.stderr.write(f"{count}件を書き出しました: {path}")

    def _import(self, contract: Contract, user: User, path: str) -> None:
        try:
            stream = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise CommandError(f"ファイルを開けません: {path} ({exc.strerror})") from exc
        with stream:
            result = importer.import_assets(
                contract, acting_user=user, filename=os.path.basename(path), stream=stream
            )
        self.stdout.write(
            f"{result.count}件を登録しました（{result.first_ref}〜{result.last_ref}、SHA-256 {result.sha256}）。"
        )
