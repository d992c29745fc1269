"""The key store: keys kept apart from data, copied to the key-store backups, and destroyed in all of them."""

from __future__ import annotations

import stat

import pytest

from sekisho.vault.crypto import KeyUnavailable
from sekisho.vault.keystore import KeyStoreError, LocalKeyService, get_key_service


@pytest.fixture
def store(tmp_path):
    return LocalKeyService(tmp_path / "keys", tmp_path / "master.key", [tmp_path / "b1", tmp_path / "b2"])


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_master_key_and_contract_keys_are_private_files(store, tmp_path):
    key_id = store.current_key_id(5)
    assert mode(tmp_path / "master.key") == 0o600
    assert mode(tmp_path / "keys" / "contract-5.key") == 0o600
    assert mode(tmp_path / "keys") == 0o700
    assert store.current_key_id(5) == key_id, "one key per contract, made once"
    # Backup tools that honour CACHEDIR.TAG (tar --exclude-caches, borg, restic) leave the key store out.
    assert (
        (tmp_path / "keys" / "CACHEDIR.TAG")
        .read_text()
        .startswith("Signature: 8a477f597d28d172789f06886806bc55")
    )


def test_the_key_file_holds_the_key_only_wrapped(store, tmp_path):
    store.current_key_id(5)
    _key_id, key = store._read_entry(5)
    assert key not in (tmp_path / "keys" / "contract-5.key").read_bytes()


def test_a_new_key_is_copied_to_every_key_store_backup(store, tmp_path):
    store.current_key_id(5)
    original = (tmp_path / "keys" / "contract-5.key").read_bytes()
    assert (tmp_path / "b1" / "contract-5.key").read_bytes() == original
    assert (tmp_path / "b2" / "contract-5.key").read_bytes() == original


def test_a_backup_restores_the_key_store(store, tmp_path):
    key_id = store.current_key_id(5)
    restored = LocalKeyService(tmp_path / "b1", tmp_path / "master.key")
    assert restored.current_key_id(5) == key_id


def test_destroying_a_key_reaches_the_store_and_every_backup(store, tmp_path):
    store.current_key_id(5)
    store.current_key_id(6)
    report = store.destroy(5)
    assert len(report.key_ids) == 1
    assert report.locations == [str(tmp_path / "keys"), str(tmp_path / "b1"), str(tmp_path / "b2")]
    for directory in ("keys", "b1", "b2"):
        assert not (tmp_path / directory / "contract-5.key").exists()
        assert (tmp_path / directory / "contract-5.destroyed").exists()
        assert (tmp_path / directory / "contract-6.key").exists(), "other contracts keep their keys"
    assert store.status(5).state == "destroyed"
    with pytest.raises(KeyUnavailable) as info:
        store.current_key_id(5)
    assert info.value.destroyed, "a shredded contract never silently gets a new key"
    for directory in ("b1", "b2"):
        with pytest.raises(KeyUnavailable):
            LocalKeyService(tmp_path / directory, tmp_path / "master.key").current_key_id(5)


def test_an_unreachable_backup_location_stops_the_destruction_before_anything_is_deleted(store, tmp_path):
    store.current_key_id(5)
    store.backup_dirs.append(tmp_path / "unplugged-disk")
    with pytest.raises(KeyStoreError, match="unplugged-disk"):
        store.destroy(5)
    assert (tmp_path / "keys" / "contract-5.key").exists()
    assert (tmp_path / "b1" / "contract-5.key").exists()


def test_backup_resyncs_locations_and_removes_only_destroyed_keys(store, tmp_path):
    store.current_key_id(5)
    store.current_key_id(6)
    (tmp_path / "b2" / "contract-6.key").unlink()
    store.backup_dirs.append(tmp_path / "b3")
    assert store.backup() == [str(tmp_path / "b1"), str(tmp_path / "b2"), str(tmp_path / "b3")]
    assert (tmp_path / "b2" / "contract-6.key").exists()
    assert (tmp_path / "b3" / "contract-5.key").exists()
    # A stale copy of a destroyed key (a backup location that was offline) goes at the next sync.
    stale = (tmp_path / "b3" / "contract-5.key").read_bytes()
    store.backup_dirs.remove(tmp_path / "b3")
    store.destroy(5)
    (tmp_path / "b3" / "contract-5.key").write_bytes(stale)
    store.backup_dirs.append(tmp_path / "b3")
    store.backup()
    assert not (tmp_path / "b3" / "contract-5.key").exists()


def test_the_configured_key_service_is_the_local_store_under_the_data_directory(settings, tmp_path):
    service = get_key_service()
    assert isinstance(service, LocalKeyService)
    assert service.directory == settings.SEKISHO_VAULT_KEY_DIR
    assert service.backup_dirs == settings.SEKISHO_VAULT_KEY_BACKUPS
