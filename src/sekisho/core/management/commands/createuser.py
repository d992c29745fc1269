from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sekisho.core import services
from sekisho.core.errors import SekishoError
from sekisho.core.models import Organisation
from sekisho.core.services import system_account


class Command(BaseCommand):
    help = "Create a login (system administration). Asks for the password unless --password-file is given."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--display-name", default="")
        parser.add_argument("--email", default="")
        parser.add_argument("--organisation", help="name of an existing organisation")
        parser.add_argument("--superuser", action="store_true", help="system administrator")
        parser.add_argument("--password-file", help="read the password from this file")

    def handle(self, *args: Any, **options: Any) -> None:
        org = None
        if options["organisation"]:
            org = Organisation.objects.filter(name=options["organisation"]).first()
            if org is None:
                raise CommandError(f"組織が見つかりません: {options['organisation']}")
        if options["password_file"]:
            with open(options["password_file"], encoding="utf-8") as fh:
                password = fh.read().strip()
        else:
            password = getpass.getpass("パスワード / Password: ")
            if password != getpass.getpass("パスワード（確認） / Password (again): "):
                raise CommandError("パスワードが一致しません。")
        # The CLI runs on the server as its operator: it acts as the deployment's system account.
        system = system_account()
        try:
            user = services.create_user(
                acting_user=system,
                username=options["username"],
                password=password,
                display_name=options["display_name"],
                email=options["email"],
                organisation=org,
                is_superuser=options["superuser"],
            )
        except SekishoError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"利用者 {user.username} を作成しました。"))
