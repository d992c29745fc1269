"""The canonical byte form of audit records: the bytes that are hashed, signed and exported.

Pure Python (no Django), shared by the server and the offline verifier. It must never change: every stored
hash depends on it.
"""

from __future__ import annotations

import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same value always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
