"""The sealed format: round trips, and every kind of tampering is caught before any bad plaintext is released."""

from __future__ import annotations

import io
import os
import uuid

import pytest

from sekisho.vault import crypto
from sekisho.vault.keystore import LocalKeyService

SEG = 64
TAG = crypto.TAG_SIZE


@pytest.fixture
def keys(tmp_path):
    return LocalKeyService(tmp_path / "keys", tmp_path / "master.key", [tmp_path / "backup"])


def seal(keys, data: bytes, *, contract_id=1, asset_id=7, object_id=None, seg=SEG) -> tuple[bytes, uuid.UUID]:
    object_id = object_id or uuid.uuid4()
    out = io.BytesIO()
    sealed = crypto.encrypt_stream(
        io.BytesIO(data).read,
        out.write,
        keys=keys,
        contract_id=contract_id,
        object_id=object_id,
        context=crypto.object_context(contract_id, asset_id, object_id),
        segment_size=seg,
    )
    assert sealed.size == len(data)
    assert sealed.stored_size == len(out.getvalue())
    import hashlib

    assert sealed.sha256 == hashlib.sha256(data).hexdigest()
    return out.getvalue(), object_id


def opened_chunks(keys, blob: bytes, object_id, *, contract_id=1, asset_id=7) -> list[bytes]:
    """Collect what the decryptor releases, stopping at the first error (which is re-raised)."""
    got: list[bytes] = []
    try:
        for chunk in crypto.decrypt_stream(
            io.BytesIO(blob).read,
            keys=keys,
            contract_id=contract_id,
            object_id=object_id,
            context=crypto.object_context(contract_id, asset_id, object_id),
        ):
            got.append(chunk)
    except crypto.VaultCryptoError as exc:
        exc.released = got  # type: ignore[attr-defined]
        raise
    return got


def header_size(blob: bytes) -> int:
    return crypto.read_header(io.BytesIO(blob).read).size


@pytest.mark.parametrize("size", [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG, 5 * SEG + 17])
def test_round_trip_of_every_size_around_segment_boundaries(keys, size):
    data = os.urandom(size)
    blob, oid = seal(keys, data)
    assert b"".join(opened_chunks(keys, blob, oid)) == data
    assert len(blob) == crypto.ciphertext_size(size, header_size(blob), SEG)


def test_the_header_says_what_the_module_docstring_says(keys):
    blob, oid = seal(keys, b"x" * 10)
    assert blob[:7] == b"SKVAULT" and blob[7] == 1
    assert int.from_bytes(blob[8:12], "big") == SEG
    assert uuid.UUID(bytes=blob[12:28]) == oid
    assert uuid.UUID(bytes=blob[28:44]) == keys.current_key_id(1)
    wrapped_len = int.from_bytes(blob[52:54], "big")
    assert wrapped_len == 60
    assert len(blob) == 54 + wrapped_len + 10 + TAG


def test_plaintext_does_not_appear_in_the_blob(keys):
    marker = b"SECRET-MARKER-" * 20
    blob, _oid = seal(keys, marker * 10)
    assert b"SECRET-MARKER" not in blob


def _released(exc_info) -> list[bytes]:
    return exc_info.value.released


def test_a_flipped_byte_in_any_segment_is_caught_and_nothing_of_it_is_released(keys):
    data = os.urandom(4 * SEG + 10)
    blob, oid = seal(keys, data)
    start = header_size(blob)
    for segment in range(5):
        damaged = bytearray(blob)
        damaged[start + segment * (SEG + TAG) + 3] ^= 0x01
        with pytest.raises(crypto.DamagedObject) as info:
            opened_chunks(keys, bytes(damaged), oid)
        released = b"".join(_released(info))
        # Segments before the damaged one minus the one held back; never a byte of the damaged segment.
        assert released == data[: max(0, segment - 1) * SEG]


def test_a_flipped_byte_in_a_tag_or_the_header_is_caught(keys):
    data = os.urandom(2 * SEG)
    blob, oid = seal(keys, data)
    start = header_size(blob)
    for position in [0, 8, 13, 30, 45, 53, 60, start - 1, start + SEG + TAG - 1]:
        damaged = bytearray(blob)
        damaged[position] ^= 0x80
        with pytest.raises(crypto.VaultCryptoError) as info:
            opened_chunks(keys, bytes(damaged), oid)
        assert _released(info) == []


@pytest.mark.parametrize("cut", ["mid_segment", "at_boundary", "final_only", "inside_header"])
def test_truncation_is_caught(keys, cut):
    data = os.urandom(3 * SEG + 5)
    blob, oid = seal(keys, data)
    start = header_size(blob)
    end = {
        "mid_segment": start + SEG + TAG + 10,
        "at_boundary": start + 2 * (SEG + TAG),
        "final_only": start + 3 * (SEG + TAG),
        "inside_header": 30,
    }[cut]
    with pytest.raises(crypto.DamagedObject) as info:
        opened_chunks(keys, blob[:end], oid)
    # The last segment before the cut is held back: a short stream never looks complete.
    assert len(b"".join(_released(info))) < len(data)


def test_an_empty_final_segment_cannot_be_dropped(keys):
    data = os.urandom(2 * SEG)  # exact multiple: an empty final segment follows
    blob, oid = seal(keys, data)
    with pytest.raises(crypto.DamagedObject) as info:
        opened_chunks(keys, blob[:-TAG], oid)
    assert b"".join(_released(info)) == data[:SEG]


def test_reordered_segments_are_caught(keys):
    data = os.urandom(3 * SEG + 1)
    blob, oid = seal(keys, data)
    start = header_size(blob)
    s = SEG + TAG
    segs = [blob[start + i * s : start + (i + 1) * s] for i in range(3)]
    swapped = blob[:start] + segs[1] + segs[0] + segs[2] + blob[start + 3 * s :]
    with pytest.raises(crypto.DamagedObject) as info:
        opened_chunks(keys, swapped, oid)
    assert _released(info) == []


def test_a_segment_spliced_in_from_another_object_is_caught(keys):
    data = os.urandom(2 * SEG + 1)
    blob_a, oid_a = seal(keys, data)
    blob_b, _oid_b = seal(keys, data)
    start = header_size(blob_a)
    s = SEG + TAG
    spliced = blob_a[: start + s] + blob_b[start + s : start + 2 * s] + blob_a[start + 2 * s :]
    with pytest.raises(crypto.DamagedObject):
        opened_chunks(keys, spliced, oid_a)


def test_bytes_after_the_final_segment_are_refused(keys):
    blob, oid = seal(keys, os.urandom(SEG + 3))
    with pytest.raises(crypto.DamagedObject):
        opened_chunks(keys, blob + b"\0", oid)


def test_a_blob_moved_to_another_asset_or_object_does_not_open(keys):
    blob, oid = seal(keys, b"data of asset 7", asset_id=7)
    with pytest.raises(crypto.DamagedObject):
        opened_chunks(keys, blob, oid, asset_id=8)
    with pytest.raises(crypto.DamagedObject):
        opened_chunks(keys, blob, uuid.uuid4())


def test_the_wrong_contract_key_opens_nothing(keys, tmp_path):
    blob, oid = seal(keys, b"secret", contract_id=1)
    other = LocalKeyService(tmp_path / "other-keys", tmp_path / "other-master.key")
    other.current_key_id(1)  # a different key for the same contract id
    with pytest.raises(crypto.KeyUnavailable):
        opened_chunks(other, blob, oid)
    # The same key id with other key material: the data key does not unwrap.
    forged = other._entry_bytes(1, keys.current_key_id(1), os.urandom(32))
    (tmp_path / "other-keys" / "contract-1.key").write_bytes(forged)
    with pytest.raises(crypto.DamagedObject) as info:
        opened_chunks(other, blob, oid)
    assert _released(info) == []


def test_a_destroyed_key_opens_nothing(keys):
    blob, oid = seal(keys, b"secret")
    keys.destroy(1)
    with pytest.raises(crypto.KeyUnavailable) as info:
        opened_chunks(keys, blob, oid)
    assert info.value.destroyed
