"""``sekisho restore``: bring a backup back into an empty deployment, then check it; or only check.

  sekisho restore ARCHIVE --keys KEYFILE -i identity.txt        restore (refused if the deployment holds data)
  sekisho restore ARCHIVE --keys KEYFILE --passphrase           … with the key file's passphrase
  sekisho restore ARCHIVE --keys KEYFILE -i … --verify-only     check the archive against its key file only
  sekisho restore --check                                       check this deployment: audit logs, vault

Exit status: 0 done and the check passed; 1 refused, failed, or the check found problems.
See docs/admin/backup-restore.ja.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sekisho.ops import cli
from sekisho.ops.check import CheckReport, check_deployment
from sekisho.ops.errors import OpsError
from sekisho.ops.restore import open_keys, restore, verify


class Command(BaseCommand):
    help = "Restore a backup into an empty deployment and check it (or --check this deployment)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", nargs="?", type=Path, help="the backup archive")
        parser.add_argument("--keys", type=Path, help="the backup's key file")
        parser.add_argument(
            "-i",
            "--identity",
            type=Path,
            action="append",
            default=[],
            help="age identity file (AGE-SECRET-KEY-1…)",
        )
        cli.add_passphrase_arguments(parser)
        parser.add_argument("--check", action="store_true", help="only check this deployment (no archive)")
        parser.add_argument(
            "--verify-only", action="store_true", help="only check the archive against its key file"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress output")

    def handle(self, *args: Any, **options: Any) -> None:
        progress = cli.progress_for(self.stderr, enabled=not options["no_progress"])
        if options["check"]:
            if options["archive"] is not None:
                raise CommandError(
                    "--check はこの配備を検査します。アーカイブは --verify-only で検査します。"
                )
            self._report(check_deployment(progress))
            return
        archive, keys = options["archive"], options["keys"]
        if archive is None or keys is None:
            raise CommandError("アーカイブと --keys（鍵ファイル）を指定してください。検査だけなら --check。")
        secret = cli.passphrase(options, confirm=False)
        if secret is None and not options["identity"]:
            raise CommandError(
                "鍵ファイルを開く秘密鍵（-i）かパスフレーズ（--passphrase）を指定してください。"
            )
        try:
            if options["verify_only"]:
                key_file = open_keys(keys, identities=options["identity"], passphrase=secret)
                manifest = verify(archive, key_file, progress)
                rows = sum(m["rows"] for m in manifest["models"])
                self.stdout.write(
                    f"アーカイブは正常です: バックアップ {key_file.backup_id}（{manifest['created_at']}）、"
                    f"{rows:,} 行、保管庫 {len(manifest['blobs'])} ファイル、メンバー {len(manifest['members'])} 件。"
                )
                return
            result = restore(
                archive, keys, identities=options["identity"], passphrase=secret, progress=progress
            )
        except OpsError as exc:
            raise CommandError(str(exc)) from exc
        for warning in result.warnings:
            self.stderr.write(f"注意: {warning}")
        if result.kept_shredded:
            self.stderr.write(
                "バックアップの後に暗号鍵を削除した契約の鍵は戻していません: "
                + ", ".join(f"契約 {c}" for c in result.kept_shredded)
            )
        self.stdout.write(
            f"復元しました: バックアップ {result.backup_id}（{result.created_at}）、{result.rows:,} 行、"
            f"保管庫 {result.blobs} ファイル、契約鍵 {len(result.keys)} 件、削除済みの鍵 "
            f"{len(result.tombstones) + len(result.kept_shredded)} 件、{result.seconds:.1f} 秒。"
        )
        self._report(result.check)

    def _report(self, report: CheckReport) -> None:
        self.stdout.write(f"復元検査: {report.summary()}")
        for problem in report.problems:
            self.stderr.write(self.style.ERROR(f"  !! {problem}"))
        if not report.ok:
            raise CommandError(f"復元検査で {len(report.problems)} 件の問題が見つかりました。")
        self.stdout.write("復元検査: 正常 — 監査ログの連鎖と署名、保管庫のすべての版を確認しました。")
