"""What ``sekisho serve`` hands to gunicorn beyond plain settings: its error log in Sekisho's format, and the
per-worker metrics files (``obs.metrics``), each worker counting under a *slot* of its own."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger as _GunicornBaseLogger

from . import logs, metrics


class GunicornLogger(_GunicornBaseLogger):
    """gunicorn's error log in Sekisho's format (plain or JSON, from settings). Its access log stays off:
    ``sekisho.request`` writes one line per request with more in it (request id, user, route, duration)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        from django.conf import settings

        fmt = logs.formatter(getattr(settings, "SEKISHO_LOG_FORMAT", "plain"))
        context = logs.RequestContextFilter()
        for handler in self.error_log.handlers:
            handler.setFormatter(fmt)
            handler.addFilter(context)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def prepare_metrics_dir(base: Path) -> Path:
    """This server's metrics directory, ``<base>/<master pid>``, empty; the directories of servers that are
    gone are removed (several servers may share one data directory, each with its own)."""
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    for entry in base.iterdir():
        if entry.is_dir() and entry.name.isdigit() and not _alive(int(entry.name)):
            shutil.rmtree(entry, ignore_errors=True)
    own = base / str(os.getpid())
    shutil.rmtree(own, ignore_errors=True)
    own.mkdir(mode=0o700)
    return own


class MetricsHooks:
    """gunicorn server hooks: a free slot for each new worker (chosen in the master, which knows the living
    workers), multiprocess metrics in the worker, the directory removed when the server stops."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def pre_fork(self, server: Any, worker: Any) -> None:
        taken = {getattr(w, "sekisho_slot", None) for w in server.WORKERS.values()}
        slot = 0
        while slot in taken:
            slot += 1
        worker.sekisho_slot = slot

    def post_fork(self, server: Any, worker: Any) -> None:
        metrics.enable_multiprocess(self.directory, worker.sekisho_slot)

    def on_exit(self, server: Any) -> None:
        with contextlib.suppress(OSError):
            shutil.rmtree(self.directory)
