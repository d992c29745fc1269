"""``sekisho agent ...``: the posture agent (src/sekisho/agent), reachable through the one ``sekisho``
command. On staff PCs ``python -m sekisho.agent`` does the same without loading Django."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "The device posture agent: enroll | report | status | open (see `sekisho agent --help`)."

    def run_from_argv(self, argv: list[str]) -> None:
        # The agent has its own argument parser; Django's would refuse its options.
        from sekisho.agent.cli import main

        sys.exit(main(argv[2:]))

    def handle(self, *args: Any, **options: Any) -> None:  # pragma: no cover - only call_command lands here
        from sekisho.agent.cli import main

        code = main(list(args))
        if code:
            sys.exit(code)
