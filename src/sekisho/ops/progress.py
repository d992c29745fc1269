"""Progress of a long backup or restore: a bar redrawn in place on a terminal, plain lines otherwise (cron
mail, a log file, a pipe), so that the output of a nightly job stays readable."""

from __future__ import annotations

import sys
import time
from typing import Protocol

BAR_WIDTH = 28
REDRAW_SECONDS = 0.1


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover - the loop always returns


class Stream(Protocol):
    def write(self, text: str, /) -> object: ...

    def flush(self) -> None: ...

    def isatty(self) -> bool: ...


class Progress:
    """One phase at a time (``phase``), advanced in units (rows or bytes) up to its total."""

    def __init__(
        self, stream: Stream | None = None, *, enabled: bool = True, tty: bool | None = None
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty() if tty is None else tty
        self._label = ""
        self._total = 0
        self._done = 0
        self._unit = ""
        self._drawn = 0.0
        self._dirty = False

    def phase(self, label: str, total: int, unit: str = "") -> None:
        self._end_line()
        self._label, self._total, self._done, self._unit = label, total, 0, unit
        self._drawn = 0.0
        if self.enabled and not self.tty:
            size = f"（{self._amount(total)}）" if total else ""
            self.stream.write(f"{label}{size} …\n")
            self.stream.flush()

    def advance(self, amount: int) -> None:
        self._done += amount
        if self.enabled and self.tty:
            now = time.monotonic()
            if now - self._drawn >= REDRAW_SECONDS or (self._total and self._done >= self._total):
                self._drawn = now
                self._draw()

    def note(self, text: str) -> None:
        """A line of its own (a finished step, a warning), whatever the output is."""
        if not self.enabled:
            return
        self._end_line()
        self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self.tty and self._label:
            self._draw()
        self._end_line()

    def _amount(self, n: int) -> str:
        return human_bytes(n) if self._unit == "bytes" else f"{n:,}{self._unit}"

    def _draw(self) -> None:
        if self._total:
            fraction = min(self._done / self._total, 1.0)
            filled = int(fraction * BAR_WIDTH)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            text = f"\r{self._label} [{bar}] {fraction:4.0%} {self._amount(self._done)}/{self._amount(self._total)}"
        else:
            text = f"\r{self._label} {self._amount(self._done)}"
        self.stream.write(text + "\033[K")
        self.stream.flush()
        self._dirty = True

    def _end_line(self) -> None:
        if self._dirty:
            self.stream.write("\n")
            self.stream.flush()
        self._dirty = False
        self._label = ""
