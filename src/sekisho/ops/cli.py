"""What ``sekisho backup`` and ``sekisho restore`` share: how the key file's passphrase is asked for."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser, OutputWrapper

from .progress import Progress

MIN_PASSPHRASE = 12


def add_passphrase_arguments(parser: CommandParser) -> None:
    parser.add_argument(
        "--passphrase",
        action="store_true",
        help="protect/open the key file with a passphrase typed at the terminal (instead of age keys)",
    )
    parser.add_argument(
        "--passphrase-file", type=Path, help="read the key file's passphrase from this file (first line)"
    )


def passphrase(options: dict[str, Any], *, confirm: bool) -> str | None:
    path: Path | None = options.get("passphrase_file")
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8").splitlines()[0] if path.stat().st_size else ""
        except OSError as exc:
            raise CommandError(f"{path} を読めません: {exc.strerror}") from exc
    elif options.get("passphrase"):
        text = getpass.getpass("鍵ファイルのパスフレーズ: ")
        if confirm and getpass.getpass("もう一度: ") != text:
            raise CommandError("パスフレーズが一致しません。")
    else:
        return None
    if confirm and len(text) < MIN_PASSPHRASE:
        raise CommandError(f"パスフレーズは{MIN_PASSPHRASE}文字以上にしてください。")
    if not text:
        raise CommandError("パスフレーズが空です。")
    return text


class _Unterminated:
    """A command's stderr that writes exactly what it is given (a progress bar redraws its line with \\r)."""

    def __init__(self, wrapper: OutputWrapper) -> None:
        self._wrapper = wrapper

    def write(self, text: str) -> int:
        self._wrapper.write(text, ending="")
        return len(text)

    def flush(self) -> None:
        self._wrapper.flush()

    def isatty(self) -> bool:
        return bool(self._wrapper.isatty())


def progress_for(stderr: OutputWrapper, *, enabled: bool) -> Progress:
    return Progress(_Unterminated(stderr), enabled=enabled)
