"""The agent's HTTP client: urllib from the standard library, every request signed with the device key.

Scripts that read or write the vault from an approved PC can use it too (``AgentClient.for_enrollment``):
the signature is what binds their requests to the device (R2.7ア).
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import __version__
from .signing import sign_request

API_PREFIX = "/api/v1"


class AgentError(Exception):
    """A refusal or failure, with the server's code, clause and (Japanese) message when it sent one."""

    def __init__(self, message: str, *, code: str = "error", clause: str | None = None, status: int = 0):
        super().__init__(message)
        self.message = message
        self.code = code
        self.clause = clause
        self.status = status

    def __str__(self) -> str:
        return f"[{self.clause}] {self.message}" if self.clause else self.message


class AgentClient:
    def __init__(
        self,
        server: str,
        private_key: Ed25519PrivateKey,
        key_id: str,
        *,
        ca_file: str = "",
        timeout: float = 30.0,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        parts = urlsplit(server)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise AgentError(f"サーバーのURLが正しくありません: {server}", code="bad_server_url")
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.prefix = parts.path.rstrip("/")
        self.private_key = private_key
        self.key_id = key_id
        self.timeout = timeout
        self.extra_headers = extra_headers or {}
        self.context = ssl.create_default_context(cafile=ca_file or None) if parts.scheme == "https" else None

    def request(self, method: str, path: str, payload: Any = None) -> Any:
        """Send a signed request to ``/api/v1<path>`` and return the decoded JSON answer."""
        full_path = f"{self.prefix}{API_PREFIX}{path}"
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        signed = sign_request(self.private_key, method=method, path=full_path, body=body, key_id=self.key_id)
        headers = {
            "Accept": "application/json",
            "User-Agent": f"sekisho-agent/{__version__}",
            **self.extra_headers,
            **signed.as_dict(),
        }
        if payload is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(  # noqa: S310 - the scheme is checked to be http(s) above
            self.base + full_path, data=body if payload is not None else None, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self.context) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise _error_from(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            raise AgentError(f"サーバーに接続できません: {self.base}（{exc}）", code="unreachable") from exc
        return json.loads(raw) if raw else None


def _error_from(exc: urllib.error.HTTPError) -> AgentError:
    raw = exc.read()
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if isinstance(data, dict) and "message" in data:
        message = str(data["message"])
        detail = data.get("detail")
        if detail:
            message += " " + json.dumps(detail, ensure_ascii=False)[:500]
        return AgentError(
            message, code=str(data.get("error", "error")), clause=data.get("clause"), status=exc.code
        )
    return AgentError(f"サーバーがエラーを返しました（HTTP {exc.code}）", code="http_error", status=exc.code)
