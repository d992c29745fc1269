"""Where the agent keeps its key and enrolments: SEKISHO_AGENT_HOME, or the user's config directory
(``%APPDATA%\\sekisho-agent`` on Windows, ``~/.config/sekisho-agent`` elsewhere).

The private key is written once, readable by the user only (0600; on Windows the profile's ACL does that
job), and never sent anywhere: the server only ever sees the public key and signatures.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

CONFIG_FILE = "config.json"
KEY_FILE = "device.key"


class ConfigError(Exception):
    pass


def agent_home() -> Path:
    explicit = os.environ.get("SEKISHO_AGENT_HOME")
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "sekisho-agent"
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sekisho-agent"


@dataclass
class Enrollment:
    server: str
    device: str
    name: str = ""
    contract_number: str = ""
    contract_title: str = ""
    enrolled_at: str = ""


@dataclass
class AgentConfig:
    home: Path
    enrollments: list[Enrollment] = field(default_factory=list)
    ca_file: str = ""

    @property
    def key_path(self) -> Path:
        return self.home / KEY_FILE

    def find(self, device: str | None) -> Enrollment:
        if device:
            for item in self.enrollments:
                if item.device == device:
                    return item
            raise ConfigError(f"この端末IDでは登録されていません: {device}")
        if not self.enrollments:
            raise ConfigError("まだ登録されていません。先に `sekisho agent enroll` を実行してください。")
        if len(self.enrollments) > 1:
            ids = ", ".join(f"{e.device}（{e.contract_number}）" for e in self.enrollments)
            raise ConfigError(f"複数の登録があります。--device で指定してください: {ids}")
        return self.enrollments[0]

    def add(self, enrollment: Enrollment) -> None:
        self.enrollments = [e for e in self.enrollments if e.device != enrollment.device]
        self.enrollments.append(enrollment)


def load(home: Path | None = None) -> AgentConfig:
    home = home or agent_home()
    path = home / CONFIG_FILE
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return AgentConfig(home=home)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"設定ファイルを読めません: {path}: {exc}") from exc
    enrollments = [Enrollment(**item) for item in data.get("enrollments", [])]
    return AgentConfig(home=home, enrollments=enrollments, ca_file=data.get("ca_file", ""))


def save(config: AgentConfig) -> None:
    data = {"enrollments": [asdict(e) for e in config.enrollments], "ca_file": config.ca_file}
    _write_private(config.home / CONFIG_FILE, json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8"))


def load_or_create_key(config: AgentConfig) -> Ed25519PrivateKey:
    """The PC's key: made on the first enrolment, reused for later ones (one PC, one key)."""
    path = config.key_path
    if path.exists():
        return load_key(config)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_private(path, pem)
    return key


def load_key(config: AgentConfig) -> Ed25519PrivateKey:
    path = config.key_path
    try:
        if os.name == "posix" and path.stat().st_mode & 0o077:
            raise ConfigError(
                f"秘密鍵のファイルが他の利用者から読める状態です（0600 にしてください）: {path}"
            )
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise ConfigError(
            f"秘密鍵がありません: {path}。`sekisho agent enroll` をやり直してください。"
        ) from exc
    except ValueError as exc:
        raise ConfigError(f"秘密鍵を読めません: {path}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"秘密鍵の形式が違います（Ed25519 ではありません）: {path}")
    return key


def _write_private(path: Path, data: bytes) -> None:
    """Write *data* to *path* atomically, readable and writable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.chmod(tmp, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
