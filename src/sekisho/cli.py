"""The ``sekisho`` command. Every subcommand is a Django management command, so ``sekisho migrate``,
``sekisho demo``, ``sekisho createuser``, ``sekisho token create`` and ``sekisho serve`` share one settings
module and one way into the services."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sekisho.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["sekisho", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
