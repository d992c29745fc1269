"""``sekisho backup``: the whole deployment (database, vault blobs) in one encrypted archive, and the keys
(the archive's data key, the secret key, the audit signing key, the vault master key and contract keys) in a
separate, small key file encrypted to age recipients or a passphrase. Keep the two apart: either alone is
useless. See docs/admin/backup-restore.ja.md.

  sekisho backup -o /backup/ --keys-output /keys/ -r age1…            (directories: dated names)
  sekisho backup -o /backup/x.backup --keys-output /keys/x.keys.age -R recipients.txt
  sekisho backup -o … --keys-output … --passphrase-file /root/backup-passphrase
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sekisho.ops import cli
from sekisho.ops.backup import create_backup
from sekisho.ops.errors import OpsError
from sekisho.ops.keyfile import parse_recipients, read_recipients_file
from sekisho.ops.progress import human_bytes


class Command(BaseCommand):
    help = "Back up the deployment: one encrypted archive and a separate key file (keep them apart)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("-o", "--output", type=Path, required=True, help="archive file, or a directory")
        parser.add_argument(
            "--keys-output", type=Path, required=True, help="key file, or a directory (keep it apart!)"
        )
        parser.add_argument(
            "-r", "--recipient", action="append", default=[], help="age recipient (age1… or ssh-ed25519 …)"
        )
        parser.add_argument("-R", "--recipients-file", type=Path, action="append", default=[])
        cli.add_passphrase_arguments(parser)
        parser.add_argument("--no-progress", action="store_true", help="no progress output")

    def handle(self, *args: Any, **options: Any) -> None:
        stamp = dt.datetime.now(tz=dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        output: Path = options["output"]
        keys_output: Path = options["keys_output"]
        if output.is_dir():
            output = output / f"sekisho-{stamp}.backup"
        if keys_output.is_dir():
            keys_output = keys_output / f"sekisho-{stamp}.keys.age"
        texts = list(options["recipient"])
        for path in options["recipients_file"]:
            try:
                texts += read_recipients_file(path)
            except OSError as exc:
                raise CommandError(f"{path} を読めません: {exc.strerror}") from exc
        secret = cli.passphrase(options, confirm=True)
        if secret is not None and texts:
            raise CommandError("受取人（-r/-R）とパスフレーズは同時に指定できません。")
        progress = cli.progress_for(self.stderr, enabled=not options["no_progress"])
        try:
            result = create_backup(
                output, keys_output, recipients=parse_recipients(texts), passphrase=secret, progress=progress
            )
        except OpsError as exc:
            raise CommandError(str(exc)) from exc
        if output.parent == keys_output.parent:
            self.stderr.write(
                "注意: 鍵ファイルがアーカイブと同じディレクトリにあります。別の場所（別の媒体）に移してください。"
            )
        self.stderr.write(
            f"バックアップを作成しました: {result.rows:,} 行、保管庫 {result.blobs} ファイル、"
            f"{human_bytes(result.archive_size)}、{result.seconds:.1f} 秒（ID {result.backup_id}）"
        )
        self.stdout.write(str(result.archive))
        self.stdout.write(str(result.keys))
