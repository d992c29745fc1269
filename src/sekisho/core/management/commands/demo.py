from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sekisho.core.demo import load_demo
from sekisho.core.models import Contract, Role


class Command(BaseCommand):
    help = "Load the demo contract if the database has no contract yet, and print the demo users once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", help="use this password for every demo user (default: random each)")

    def handle(self, *args: Any, **options: Any) -> None:
        if Contract.objects.exists():
            self.stdout.write(
                "デモデータは読み込み済みです（契約が既にあります）。 Demo data already present."
            )
            return
        created = load_demo(password=options["password"])
        self.stdout.write(self.style.SUCCESS("デモ契約を読み込みました。 Demo contract loaded."))
        self.stdout.write(
            "以下のパスワードはこの一度だけ表示されます。 These passwords are shown only once.\n"
        )
        for spec, pw in created:
            role = Role(spec.role).label if spec.role else "-"
            second = (
                "（初回ログイン時に認証アプリを登録 / TOTP set-up at first login）"
                if spec.role in (Role.ORDERER, Role.MANAGER)
                else ""
            )
            self.stdout.write(f"  {spec.username:<10} {pw:<20} {spec.display_name}（{role}）{second}")
