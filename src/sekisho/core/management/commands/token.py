from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from sekisho.core.auth import issue_api_token
from sekisho.core.errors import SekishoError
from sekisho.core.models import User
from sekisho.core.services import system_account


class Command(BaseCommand):
    help = "API tokens: `token create USERNAME --name NAME [--days N]` prints the token once."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        create = sub.add_parser("create", help="create a token for a user")
        create.add_argument("username")
        create.add_argument("--name", required=True)
        create.add_argument("--days", type=int, default=90, help="days until it expires (0: never)")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"利用者が見つかりません: {options['username']}")
        days = options["days"]
        if days < 0:
            raise CommandError("--days は0以上にしてください。")
        expires = timezone.now() + dt.timedelta(days=days) if days else None
        try:
            token, text = issue_api_token(
                user, acting_user=system_account(), name=options["name"], expires_at=expires
            )
        except SekishoError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(f"トークン {token.prefix} を作成しました（この値は一度だけ表示されます）。")
        self.stdout.write(text)
