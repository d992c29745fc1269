"""Contract keys: the key store that makes crypto-shredding work (R2.5, P9; DESIGN "Crypto-shredding and
backups").

Each contract has one 256-bit key. It wraps the data key of every object of the contract (``crypto.py``) and
is itself wrapped by the deployment's master key. Deleting it makes every blob of the contract — in the vault,
in every data backup, on every restored disk — ciphertext without a key.

That only holds if no copy of the contract key survives, so contract keys live **apart from the data**:

- the key store is a directory of small files, ``SEKISHO_VAULT_KEY_DIR`` (default ``DATA_DIR/keys``), one
  ``contract-<id>.key`` per contract (JSON: key id, the key wrapped by the master key), mode 0600. Data
  backups must exclude it (and ``master.key``); it carries a ``CACHEDIR.TAG`` so that tar
  ``--exclude-caches``, borg and restic ``--exclude-caches`` skip it on their own;
- its backups are the directories listed in ``SEKISHO_VAULT_KEY_BACKUPS``. A new key is copied there at once,
  ``sekisho vault keys backup`` re-syncs them. They are few, small and rewritable, so shredding reaches them:
  ``destroy`` first checks that every location is writable (else it deletes nothing and says which is not),
  then overwrites and deletes the key file in each and leaves a ``contract-<id>.destroyed`` tombstone, so
  the contract can never silently get a new key and a restored key store cannot resurrect the old one;
- the master key is ``SEKISHO_MASTER_KEY_FILE`` (default ``DATA_DIR/master.key``, 32 random bytes, 0600).

An external key service (a KMS or HSM) plugs in by implementing ``KeyService`` and naming the class in
``SEKISHO_VAULT_KEY_SERVICE`` (a dotted path; the class is built with ``from_settings()``). Such a service
keeps one key per contract that never leaves it: ``wrap``/``unwrap`` map to its encrypt/decrypt calls with the
AAD as encryption context, ``current_key_id`` to looking up (or creating) the contract's key by alias, and
``destroy`` to its key deletion — with the service's own guarantee about its backups taking the place of the
backup list here.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.utils.module_loading import import_string

from .crypto import KEY_SIZE, DamagedObject, KeyUnavailable, VaultCryptoError

KEY_FORMAT = "sekisho-contract-key/1"
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# Sekisho contract keys. Keep them OUT of data backups: crypto-shredding must reach every copy.\n"
    "# Their own backups are the SEKISHO_VAULT_KEY_BACKUPS directories.\n"
)


class KeyStoreError(VaultCryptoError):
    """The key store cannot do what was asked (unreachable backup location, unreadable master key…)."""


@dataclass(frozen=True)
class KeyStatus:
    contract_id: int
    state: str  # "none" | "active" | "destroyed"
    key_id: uuid.UUID | None = None
    destroyed_at: str | None = None


@dataclass
class DestroyReport:
    contract_id: int
    key_ids: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    already_destroyed: bool = False


class KeyService(ABC):
    """Where contract keys live. Implementations never hand a contract key to the caller: they wrap and
    unwrap data keys with it."""

    @classmethod
    @abstractmethod
    def from_settings(cls) -> KeyService: ...

    @abstractmethod
    def current_key_id(self, contract_id: int) -> uuid.UUID:
        """The id of the contract's key, creating the key on first use. KeyUnavailable once destroyed."""

    @abstractmethod
    def wrap(self, contract_id: int, key_id: uuid.UUID, data_key: bytes, aad: bytes) -> bytes: ...

    @abstractmethod
    def unwrap(self, contract_id: int, key_id: uuid.UUID, wrapped: bytes, aad: bytes) -> bytes:
        """The data key; KeyUnavailable if the contract key is gone, DamagedObject if it does not open."""

    @abstractmethod
    def status(self, contract_id: int) -> KeyStatus: ...

    @abstractmethod
    def check_destroyable(self, contract_id: int) -> list[str]:
        """The locations ``destroy`` would have to reach; raises KeyStoreError naming any it cannot."""

    @abstractmethod
    def destroy(self, contract_id: int) -> DestroyReport:
        """Crypto-shredding: delete the contract's key everywhere it is kept. Idempotent."""

    def backup(self) -> list[str]:
        """Copy the key store to its backup locations (nothing to do for services that keep their own)."""
        return []


def get_key_service() -> KeyService:
    cls = import_string(settings.SEKISHO_VAULT_KEY_SERVICE)
    service = cls.from_settings()
    if not isinstance(service, KeyService):
        raise KeyStoreError(f"{settings.SEKISHO_VAULT_KEY_SERVICE} is not a KeyService")
    return service


# --- the local key store --------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode("ascii"))


def _write_private(path: Path, data: bytes, *, exclusive: bool = False) -> bool:
    """Write *data* to *path* atomically with mode 0600. With *exclusive*, return False if it exists."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            try:
                os.link(tmp, path)  # fails if another process made the key first
            except FileExistsError:
                return False
        else:
            os.replace(tmp, path)
        _fsync_dir(path.parent)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ensure_dir(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    tag = directory / "CACHEDIR.TAG"
    if not tag.exists():
        with contextlib.suppress(FileExistsError):
            _write_private(tag, CACHEDIR_TAG.encode("ascii"), exclusive=True)


def _shred_file(path: Path) -> None:
    """Overwrite, then delete. On copy-on-write or flash storage the overwrite is best effort; the key file
    only holds the key wrapped by the master key, and rotating the master key afterwards (a new master key,
    the remaining contract keys rewrapped) leaves any remnant unreadable."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    with path.open("r+b") as fh:
        fh.write(secrets.token_bytes(size))
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink()
    _fsync_dir(path.parent)


def load_or_create_master_key(path: Path) -> bytes:
    """The master key (32 bytes, base64 in the file), created with mode 0600 on first use."""
    try:
        raw = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(
            path, (_b64(AESGCM.generate_key(bit_length=256)) + "\n").encode("ascii"), exclusive=True
        )
        raw = path.read_text(encoding="ascii").strip()
    try:
        key = _unb64(raw)
    except ValueError as exc:
        raise KeyStoreError(f"the master key file {path} is not base64") from exc
    if len(key) != KEY_SIZE:
        raise KeyStoreError(f"the master key in {path} must be {KEY_SIZE} bytes")
    return key


class LocalKeyService(KeyService):
    """Contract keys as files in a directory, wrapped by a master key file; backups in other directories."""

    def __init__(self, directory: Path, master_key_file: Path, backup_dirs: list[Path] | None = None) -> None:
        self.directory = Path(directory)
        self.master_key_file = Path(master_key_file)
        self.backup_dirs = [Path(d) for d in (backup_dirs or [])]
        self._master: bytes | None = None

    @classmethod
    def from_settings(cls) -> LocalKeyService:
        return cls(
            settings.SEKISHO_VAULT_KEY_DIR,
            settings.SEKISHO_MASTER_KEY_FILE,
            list(settings.SEKISHO_VAULT_KEY_BACKUPS),
        )

    # paths
    def _key_path(self, directory: Path, contract_id: int) -> Path:
        return directory / f"contract-{int(contract_id)}.key"

    def _tombstone_path(self, directory: Path, contract_id: int) -> Path:
        return directory / f"contract-{int(contract_id)}.destroyed"

    def _master_key(self) -> bytes:
        if self._master is None:
            self._master = load_or_create_master_key(self.master_key_file)
        return self._master

    def master_key_id(self) -> str:
        return hashlib.sha256(b"sekisho-master-key-id\x00" + self._master_key()).hexdigest()[:16]

    @staticmethod
    def _master_aad(contract_id: int, key_id: uuid.UUID) -> bytes:
        return f"sekisho-contract-key/1 contract={int(contract_id)} key={key_id}".encode("ascii")

    # reading
    def _read_entry(self, contract_id: int) -> tuple[uuid.UUID, bytes]:
        tomb = self._tombstone_path(self.directory, contract_id)
        path = self._key_path(self.directory, contract_id)
        if tomb.exists():
            raise KeyUnavailable(f"contract {contract_id}: key destroyed (crypto-shredded)", destroyed=True)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise KeyUnavailable(f"contract {contract_id}: no key in the key store", destroyed=False) from exc
        if entry.get("format") != KEY_FORMAT or entry.get("contract") != int(contract_id):
            raise KeyStoreError(f"{path} is not this contract's key file")
        key_id = uuid.UUID(entry["key_id"])
        blob = _unb64(entry["wrapped"])
        try:
            key = AESGCM(self._master_key()).decrypt(
                blob[:12], blob[12:], self._master_aad(contract_id, key_id)
            )
        except InvalidTag as exc:
            raise KeyStoreError(f"{path} does not open with the master key {self.master_key_file}") from exc
        return key_id, key

    def _entry_bytes(self, contract_id: int, key_id: uuid.UUID, key: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        wrapped = nonce + AESGCM(self._master_key()).encrypt(
            nonce, key, self._master_aad(contract_id, key_id)
        )
        entry = {
            "format": KEY_FORMAT,
            "contract": int(contract_id),
            "key_id": str(key_id),
            "wrapped": _b64(wrapped),
            "master_key_id": self.master_key_id(),
            "created_at": dt.datetime.now(tz=dt.UTC).isoformat(timespec="seconds"),
        }
        return (json.dumps(entry, indent=1) + "\n").encode("utf-8")

    # KeyService
    def current_key_id(self, contract_id: int) -> uuid.UUID:
        try:
            return self._read_entry(contract_id)[0]
        except KeyUnavailable as exc:
            if exc.destroyed:
                raise
        _ensure_dir(self.directory)
        key_id = uuid.uuid4()
        data = self._entry_bytes(contract_id, key_id, AESGCM.generate_key(bit_length=256))
        if _write_private(self._key_path(self.directory, contract_id), data, exclusive=True):
            for directory in self.backup_dirs:
                # A key that exists only in the primary store would die with that disk; a failing backup
                # location is repaired by `sekisho vault keys backup`, it must not stop the upload.
                with contextlib.suppress(OSError):
                    _ensure_dir(directory)
                    _write_private(self._key_path(directory, contract_id), data)
        return self._read_entry(contract_id)[0]

    def _key(self, contract_id: int, key_id: uuid.UUID) -> bytes:
        current_id, key = self._read_entry(contract_id)
        if current_id != key_id:
            raise KeyUnavailable(
                f"contract {contract_id}: key {key_id} is not in the key store (it holds {current_id})",
                destroyed=False,
            )
        return key

    def wrap(self, contract_id: int, key_id: uuid.UUID, data_key: bytes, aad: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + AESGCM(self._key(contract_id, key_id)).encrypt(nonce, data_key, aad)

    def unwrap(self, contract_id: int, key_id: uuid.UUID, wrapped: bytes, aad: bytes) -> bytes:
        key = self._key(contract_id, key_id)
        try:
            return AESGCM(key).decrypt(wrapped[:12], wrapped[12:], aad)
        except (InvalidTag, ValueError) as exc:
            raise DamagedObject(
                "the data key does not open with the contract key (wrong key or damaged header)"
            ) from exc

    def status(self, contract_id: int) -> KeyStatus:
        tomb = self._tombstone_path(self.directory, contract_id)
        if tomb.exists():
            info = json.loads(tomb.read_text(encoding="utf-8"))
            return KeyStatus(contract_id, "destroyed", None, info.get("destroyed_at"))
        path = self._key_path(self.directory, contract_id)
        if not path.exists():
            return KeyStatus(contract_id, "none")
        entry = json.loads(path.read_text(encoding="utf-8"))
        return KeyStatus(contract_id, "active", uuid.UUID(entry["key_id"]))

    def _locations(self) -> list[Path]:
        return [self.directory, *self.backup_dirs]

    def check_destroyable(self, contract_id: int) -> list[str]:
        unreachable = [
            str(d) for d in self._locations() if not (d.is_dir() and os.access(d, os.W_OK | os.X_OK))
        ]
        # The primary directory may not exist yet (no key was ever made); that is not a problem.
        unreachable = [d for d in unreachable if d != str(self.directory) or self.directory.exists()]
        if unreachable:
            raise KeyStoreError("key store locations not reachable: " + ", ".join(unreachable))
        return [str(d) for d in self._locations()]

    def destroy(self, contract_id: int) -> DestroyReport:
        self.check_destroyable(contract_id)
        report = DestroyReport(contract_id)
        key_ids: set[str] = set()
        for directory in self._locations():
            path = self._key_path(directory, contract_id)
            with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
                key_ids.add(str(json.loads(path.read_text(encoding="utf-8"))["key_id"]))
        report.already_destroyed = not key_ids and self._tombstone_path(self.directory, contract_id).exists()
        tomb = {
            "format": "sekisho-contract-key-destroyed/1",
            "contract": int(contract_id),
            "key_ids": sorted(key_ids),
            "destroyed_at": dt.datetime.now(tz=dt.UTC).isoformat(timespec="seconds"),
        }
        for directory in self._locations():
            _ensure_dir(directory)
            # Tombstone first: from this instant no process can make a new key for the contract.
            tomb_path = self._tombstone_path(directory, contract_id)
            if not tomb_path.exists():
                _write_private(tomb_path, (json.dumps(tomb, indent=1) + "\n").encode("utf-8"))
            _shred_file(self._key_path(directory, contract_id))
            report.locations.append(str(directory))
        report.key_ids = sorted(key_ids)
        return report

    def backup(self) -> list[str]:
        """Make every backup location hold exactly the primary's key files and tombstones."""
        if not self.directory.exists():
            return []
        done = []
        names = {p.name for p in self.directory.iterdir() if p.suffix in (".key", ".destroyed")}
        for directory in self.backup_dirs:
            _ensure_dir(directory)
            for name in sorted(names):
                _write_private(directory / name, (self.directory / name).read_bytes())
            for stale in directory.iterdir():
                # Only a key the primary store has destroyed goes; a key missing from the primary for any
                # other reason (a lost disk) is exactly what this backup is for.
                tomb = self.directory / stale.name.replace(".key", ".destroyed")
                if stale.suffix == ".key" and stale.name not in names and tomb.exists():
                    _shred_file(stale)
            done.append(str(directory))
        return done
