"""The key file of a backup: the data key that opens the archive, and the deployment's key material, encrypted
to the administrator's age recipients or passphrase and kept apart from the archive.

The archive alone is ciphertext without a key; the key file alone holds no data. Key material is the
deployment's:

- the Django secret key (sessions, signed links): ``SEKISHO_SECRET_KEY[_FILE]`` or ``DATA_DIR/secret_key``;
- the audit log's Ed25519 signing key: ``SEKISHO_AUDIT_KEY_FILE`` (default ``DATA_DIR/audit_ed25519.key``);
- the vault's master key ``SEKISHO_MASTER_KEY_FILE`` and the contract key store ``SEKISHO_VAULT_KEY_DIR``
  (each contract key wrapped by the master key) with its tombstones of crypto-shredded contracts.

A crypto-shredded contract has no key in the key store, only a tombstone, so a backup taken after the
shredding cannot carry its key. For one taken *before* it, ``install`` consults the tombstones in the
restoring deployment's key-store backups (``SEKISHO_VAULT_KEY_BACKUPS``, which ``destroy`` reaches) and
installs the tombstone instead of the key: a key once shredded never comes back through a restore.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import re
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyrage
from django.conf import settings

from .errors import OpsError, WrongKey

KEYFILE_FORMAT = "sekisho-backup-keys"
KEYFILE_VERSION = 1
_CONTRACT_FILE = re.compile(r"^contract-(\d+)\.(key|destroyed)$")
LOCAL_KEY_SERVICE = "sekisho.vault.keystore.LocalKeyService"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


@dataclass
class KeyFile:
    backup_id: uuid.UUID
    created_at: str
    archive_name: str
    archive_sha256: str
    archive_size: int
    data_key: bytes
    secret_key: str
    audit_key: bytes
    master_key: bytes | None
    # file name in the key store -> bytes (contract-<id>.key, contract-<id>.destroyed)
    key_store: dict[str, bytes] = field(default_factory=dict)
    key_service: str = LOCAL_KEY_SERVICE

    def to_json(self) -> bytes:
        body = {
            "format": KEYFILE_FORMAT,
            "version": KEYFILE_VERSION,
            "backup_id": str(self.backup_id),
            "created_at": self.created_at,
            "archive": {"name": self.archive_name, "sha256": self.archive_sha256, "size": self.archive_size},
            "data_key": _b64(self.data_key),
            "secret_key": self.secret_key,
            "audit_key": _b64(self.audit_key),
            "master_key": _b64(self.master_key) if self.master_key is not None else None,
            "key_store": {name: _b64(data) for name, data in sorted(self.key_store.items())},
            "key_service": self.key_service,
        }
        return json.dumps(body, indent=1).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> KeyFile:
        try:
            body = json.loads(data.decode("utf-8"))
            if body.get("format") != KEYFILE_FORMAT or body.get("version") != KEYFILE_VERSION:
                raise ValueError("format")
            return cls(
                backup_id=uuid.UUID(body["backup_id"]),
                created_at=body["created_at"],
                archive_name=body["archive"]["name"],
                archive_sha256=body["archive"]["sha256"],
                archive_size=int(body["archive"]["size"]),
                data_key=_unb64(body["data_key"]),
                secret_key=body["secret_key"],
                audit_key=_unb64(body["audit_key"]),
                master_key=_unb64(body["master_key"]) if body.get("master_key") else None,
                key_store={name: _unb64(v) for name, v in body.get("key_store", {}).items()},
                key_service=body.get("key_service", LOCAL_KEY_SERVICE),
            )
        except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
            raise WrongKey("鍵ファイルの中身が Sekisho のバックアップ鍵ではありません。") from exc

    def contract_keys(self) -> list[int]:
        return sorted(
            int(m.group(1)) for n in self.key_store if (m := _CONTRACT_FILE.match(n)) and m[2] == "key"
        )

    def tombstones(self) -> list[int]:
        return sorted(
            int(m.group(1)) for n in self.key_store if (m := _CONTRACT_FILE.match(n)) and m[2] == "destroyed"
        )


# --- collecting and installing key material ---------------------------------------------------------------------


def secret_key_path() -> Path | None:
    """Where the running deployment reads its secret key from, or None when it comes from the environment."""
    if os.environ.get("SEKISHO_SECRET_KEY_FILE"):
        return Path(os.environ["SEKISHO_SECRET_KEY_FILE"])
    if os.environ.get("SEKISHO_SECRET_KEY"):
        return None
    return Path(settings.DATA_DIR) / "secret_key"


def uses_local_key_store() -> bool:
    return bool(settings.SEKISHO_VAULT_KEY_SERVICE == LOCAL_KEY_SERVICE)


def collect(keyfile: KeyFile) -> None:
    """Fill *keyfile* with the deployment's key material, as it is now."""
    keyfile.secret_key = settings.SECRET_KEY
    keyfile.audit_key = Path(settings.SEKISHO_AUDIT_KEY_FILE).read_bytes()
    keyfile.key_service = settings.SEKISHO_VAULT_KEY_SERVICE
    if not uses_local_key_store():
        # An external key service (KMS/HSM) keeps contract keys itself, with its own backups.
        keyfile.master_key = None
        keyfile.key_store = {}
        return
    master = Path(settings.SEKISHO_MASTER_KEY_FILE)
    keyfile.master_key = master.read_bytes() if master.exists() else None
    directory = Path(settings.SEKISHO_VAULT_KEY_DIR)
    keyfile.key_store = {}
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            if _CONTRACT_FILE.match(path.name):
                with contextlib.suppress(FileNotFoundError):  # a key shredded this very moment
                    keyfile.key_store[path.name] = path.read_bytes()
    # A key and a tombstone for the same contract: the shredding won while we read.
    for name in list(keyfile.key_store):
        if name.endswith(".key") and name.replace(".key", ".destroyed") in keyfile.key_store:
            del keyfile.key_store[name]


def key_store_in_use() -> list[str]:
    """Key files or tombstones already in the key store (a deployment that is not empty)."""
    directory = Path(settings.SEKISHO_VAULT_KEY_DIR)
    if not uses_local_key_store() or not directory.is_dir():
        return []
    return sorted(p.name for p in directory.iterdir() if _CONTRACT_FILE.match(p.name))


def write_private(path: Path, data: bytes) -> None:
    """Write *data* to *path* atomically, mode 0600."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@dataclass
class Installed:
    """What ``install`` wrote, and how to take it back if the restore fails after it."""

    previous: dict[Path, bytes | None] = field(default_factory=dict)
    keys: list[int] = field(default_factory=list)
    tombstones: list[int] = field(default_factory=list)
    kept_shredded: list[int] = field(default_factory=list)  # keys not installed: shredded since the backup
    warnings: list[str] = field(default_factory=list)

    def put(self, path: Path, data: bytes) -> None:
        if path not in self.previous:
            self.previous[path] = path.read_bytes() if path.exists() else None
        write_private(path, data)

    def undo(self) -> None:
        for path, data in self.previous.items():
            if data is None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            else:
                write_private(path, data)


def _shredded_elsewhere(contract_id: int) -> Path | None:
    for directory in settings.SEKISHO_VAULT_KEY_BACKUPS:
        tomb = Path(directory) / f"contract-{contract_id}.destroyed"
        if tomb.exists():
            return tomb
    return None


def install(keyfile: KeyFile, installed: Installed) -> None:
    """Put the key material of *keyfile* in place in this deployment (see the module docstring)."""
    path = secret_key_path()
    if path is None:
        if keyfile.secret_key != settings.SECRET_KEY:
            installed.warnings.append(
                "SEKISHO_SECRET_KEY is set in the environment: the backed-up secret key was written to "
                f"{Path(settings.DATA_DIR) / 'secret_key'}; unset SEKISHO_SECRET_KEY to use it "
                "(otherwise sessions and signed links of the old deployment are invalid)."
            )
        path = Path(settings.DATA_DIR) / "secret_key"
    installed.put(path, (keyfile.secret_key + "\n").encode("utf-8"))
    installed.put(Path(settings.SEKISHO_AUDIT_KEY_FILE), keyfile.audit_key)
    if keyfile.key_service != LOCAL_KEY_SERVICE or not uses_local_key_store():
        if keyfile.key_service != settings.SEKISHO_VAULT_KEY_SERVICE:
            raise OpsError(
                f"このバックアップの契約鍵は {keyfile.key_service} にあります。この配備は "
                f"{settings.SEKISHO_VAULT_KEY_SERVICE} を使っています。SEKISHO_VAULT_KEY_SERVICE を合わせてください。"
            )
        return
    if keyfile.master_key is not None:
        installed.put(Path(settings.SEKISHO_MASTER_KEY_FILE), keyfile.master_key)
    directory = Path(settings.SEKISHO_VAULT_KEY_DIR)
    from sekisho.vault.keystore import _ensure_dir

    _ensure_dir(directory)
    for name, data in sorted(keyfile.key_store.items()):
        match = _CONTRACT_FILE.match(name)
        if match is None:
            continue
        contract_id = int(match[1])
        if match[2] == "key":
            tomb = _shredded_elsewhere(contract_id)
            if tomb is not None:
                installed.put(directory / tomb.name, tomb.read_bytes())
                installed.kept_shredded.append(contract_id)
                continue
            installed.keys.append(contract_id)
        else:
            installed.tombstones.append(contract_id)
        installed.put(directory / name, data)


def sync_key_backups() -> list[str]:
    """Copy the restored key store to its backup locations (``SEKISHO_VAULT_KEY_BACKUPS``)."""
    if not uses_local_key_store():
        return []
    from sekisho.vault.keystore import LocalKeyService

    return LocalKeyService.from_settings().backup()


# --- sealing the key file ---------------------------------------------------------------------------------------


def parse_recipients(values: list[str]) -> list[Any]:
    recipients: list[Any] = []
    for value in values:
        text = value.strip()
        if not text or text.startswith("#"):
            continue
        try:
            if text.startswith("age1"):
                recipients.append(pyrage.x25519.Recipient.from_str(text))
            elif text.startswith(("ssh-ed25519 ", "ssh-rsa ")):
                recipients.append(pyrage.ssh.Recipient.from_str(text))
            else:
                raise ValueError(text)
        except (pyrage.RecipientError, ValueError) as exc:
            raise OpsError(f"age の受取人として読めません: {text[:40]}… ({exc})") from exc
    return recipients


def read_recipients_file(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def read_identities(paths: list[Path]) -> list[Any]:
    identities: list[Any] = []
    for path in paths:
        data = path.read_bytes()
        if b"PRIVATE KEY" in data:
            identities.append(pyrage.ssh.Identity.from_buffer(data))
            continue
        for line in data.decode("utf-8").splitlines():
            line = line.strip()
            if line.startswith("AGE-SECRET-KEY-"):
                try:
                    identities.append(pyrage.x25519.Identity.from_str(line))
                except pyrage.IdentityError as exc:
                    raise OpsError(f"{path}: age の秘密鍵として読めません ({exc})") from exc
        if not identities:
            raise OpsError(f"{path}: age の秘密鍵（AGE-SECRET-KEY-1…）がありません。")
    return identities


def seal(keyfile: KeyFile, *, recipients: list[Any], passphrase: str | None) -> bytes:
    """The key file, ASCII-armored age: it can be printed and kept on paper as well."""
    body = keyfile.to_json()
    if passphrase is not None:
        return bytes(pyrage.passphrase.encrypt(body, passphrase, armored=True))
    return bytes(pyrage.encrypt(body, recipients, armored=True))


def open_keyfile(data: bytes, *, identities: list[Any], passphrase: str | None) -> KeyFile:
    if b"BEGIN AGE ENCRYPTED FILE" not in data[:100] and not data.startswith(b"age-encryption.org/"):
        raise WrongKey("鍵ファイルではありません（age で暗号化されたファイルではありません）。")
    try:
        if passphrase is not None:
            body = pyrage.passphrase.decrypt(data, passphrase)
        else:
            body = pyrage.decrypt(data, identities)
    except pyrage.DecryptError as exc:
        raise WrongKey(
            "鍵ファイルを開けません: 指定された秘密鍵またはパスフレーズが違います。"
            f" (The key file does not open with this identity or passphrase: {exc}.)"
        ) from exc
    return KeyFile.from_json(bytes(body))


def now_text() -> str:
    return dt.datetime.now(tz=dt.UTC).isoformat(timespec="seconds")
