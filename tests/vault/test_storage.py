"""Both storage backends: a blob is visible only once committed, an abort leaves nothing, and what a killed
process leaves (a partial file, an incomplete multipart upload) is listed and removable."""

from __future__ import annotations

import os

import pytest

from sekisho.vault.storage import BlobMissing, StorageError, get_storage

PART = 5 << 20


def test_write_commit_read_delete(backend):
    storage = get_storage()
    data = os.urandom(PART + 12345)  # more than one S3 part: a multipart upload
    writer = storage.writer("objects/c1/a1/blob.skv")
    for i in range(0, len(data), 1 << 20):
        writer.write(memoryview(data)[i : i + (1 << 20)])
    assert not storage.exists("objects/c1/a1/blob.skv"), "invisible until committed"
    writer.commit()
    assert storage.size("objects/c1/a1/blob.skv") == len(data)
    reader = storage.open("objects/c1/a1/blob.skv")
    assert reader.read() == data
    reader.close()
    assert list(storage.keys("objects/")) == ["objects/c1/a1/blob.skv"]
    storage.delete("objects/c1/a1/blob.skv")
    with pytest.raises(BlobMissing):
        storage.open("objects/c1/a1/blob.skv")


def test_abort_leaves_nothing(backend):
    storage = get_storage()
    writer = storage.writer("objects/c1/a1/gone.skv")
    writer.write(os.urandom(PART + 1))
    writer.abort()
    assert list(storage.keys()) == [] and list(storage.partials()) == []


def test_an_upload_that_never_finished_is_listed_and_removed(backend):
    storage = get_storage()
    writer = storage.writer("objects/c1/a1/killed.skv")
    writer.write(os.urandom(PART + 1))  # on S3 one part has been sent: an incomplete multipart upload
    # ... and the process dies here: neither commit nor abort.
    partials = list(storage.partials())
    assert [p.key for p in partials] == ["objects/c1/a1/killed.skv"]
    assert list(storage.keys()) == []
    storage.remove_partial(partials[0])
    assert list(storage.partials()) == []


@pytest.mark.parametrize("key", ["../escape", "/abs", "objects/../../x", "Objects/upper", "a/b.partial-x"])
def test_keys_cannot_leave_the_vault(key):
    with pytest.raises(StorageError):
        get_storage().writer(key)
