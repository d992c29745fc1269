"""Collect the security facts of this PC with the collector of its operating system."""

from __future__ import annotations

import sys

from .common import Facts, Runner, run_command


def collect_facts(run: Runner = run_command) -> Facts:
    if sys.platform == "win32":
        from . import windows

        return windows.collect(run)
    if sys.platform == "darwin":
        from . import macos

        return macos.collect(run)
    from . import linux

    return linux.collect(run)


__all__ = ["Facts", "Runner", "collect_facts", "run_command"]
