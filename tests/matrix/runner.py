"""Making one matrix request and judging its outcome against a row."""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.test import Client

from .conftest import MEMBERS, Matrix, rolled_back
from .discovery import ApiOperation, UiRoute
from .expectations import LOGIN, Api, Call, Expect, Ui, describe, matches
from .objects import PARAMS, fill, object_params

NOT_FOUND_BODY = {"error": "not_found", "clause": None, "message": "見つかりません。"}


@dataclass
class Outcome:
    status: int
    body: bytes
    content_type: str
    location: str
    raised: str | None = None  # the traceback when the view raised instead of answering
    flash: tuple[str, ...] = ()  # level tags of the messages the request added ("success", "error", …)
    flash_text: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def brief(self) -> str:
        if self.raised:
            return f"{self.status} (the view raised)\n{self.raised}"
        detail = ""
        data = self.json() if "json" in self.content_type else None
        if isinstance(data, dict) and "error" in data:
            detail = f" {data.get('error')} [{data.get('clause')}] {str(data.get('message'))[:160]}"
        elif self.location:
            detail = f" -> {self.location}"
        if self.flash:
            detail += (
                " ["
                + "; ".join(
                    f"{lv}: {text[:120]}" for lv, text in zip(self.flash, self.flash_text, strict=True)
                )
                + "]"
            )
        return f"{self.status}{detail}"


def send(
    client: Client,
    method: str,
    url: str,
    *,
    json_body: Any = None,
    form: dict[str, Any] | None = None,
    raw: tuple[bytes, str] | None = None,
    query: dict[str, Any] | None = None,
) -> Outcome:
    kwargs: dict[str, Any] = {}
    if query:
        kwargs["query_params"] = query
    if json_body is not None:
        kwargs.update(data=json.dumps(json_body), content_type="application/json")
    elif form is not None:
        kwargs["data"] = form
    elif raw is not None:
        kwargs.update(data=raw[0], content_type=raw[1])
    try:
        response = getattr(client, method)(url, **kwargs)
    except Exception:
        return Outcome(500, b"", "", "", raised=traceback.format_exc(limit=12))
    streaming = getattr(response, "streaming", False)
    body = b"".join(response.streaming_content) if streaming else response.content
    storage = getattr(getattr(response, "wsgi_request", None), "_messages", None)
    queued = list(getattr(storage, "_queued_messages", []))
    return Outcome(
        response.status_code,
        body,
        response.get("Content-Type", ""),
        response.get("Location", ""),
        flash=tuple(m.level_tag for m in queued),
        flash_text=tuple(str(m.message) for m in queued),
        headers=dict(response.items()),
    )


# --- API ------------------------------------------------------------------------------------------------------


def api_request(m: Matrix, op: ApiOperation, row: Api, persona: str, **swap: Any) -> Outcome:
    """One request of *row* as *persona*; *swap* replaces path parameters (the cross-contract check)."""
    # Objects are made (lazily) outside the request's savepoint, so they outlive its rollback.
    call = Call(m.main, m.user(persona))
    url = op.url({**fill(op.params, m.main, m.user(persona), row.params), **swap})
    body = row.body(call) if row.body else None
    query = row.query(call) if callable(row.query) else row.query
    with rolled_back():
        form = row.files(call) if row.files else None
        return send(
            m.api_client(persona), op.method, url, json_body=body, form=form, raw=row.raw, query=query
        )


def judge(outcome: Outcome, expected: Expect, persona: str, *, secrets: Iterable[str]) -> list[str]:
    problems = []
    if outcome.status >= 500 or not matches(outcome, expected):
        problems.append(f"{persona}: expected {describe(expected)}, got {outcome.brief()}")
    text = outcome.text()
    leaked = [s for s in secrets if s and s in text]
    if leaked:
        problems.append(f"{persona}: the response contains {leaked} (another contract's data)")
    return problems


def judge_api(m: Matrix, op: ApiOperation, row: Api, persona: str, outcome: Outcome) -> list[str]:
    expected = row.expect[persona]
    secrets = m.secrets_of_main() if persona in ("outsider", "anonymous") else m.secrets_of_other()
    problems = judge(outcome, expected, persona, secrets=secrets)
    if persona == "outsider" and outcome.status == 404 and outcome.json() != NOT_FOUND_BODY:
        problems.append(f"outsider: the 404 must be the plain not_found body, got {outcome.text()[:300]}")
    if outcome.status >= 400 and "json" in outcome.content_type:
        data = outcome.json()
        if not (isinstance(data, dict) and {"error", "clause", "message"} <= set(data)):
            problems.append(
                f"{persona}: a {outcome.status} must carry {{error, clause, message}}: {outcome.text()[:300]}"
            )
    return problems


def is_contract_scoped(params: tuple[str, ...], row: Api | Ui) -> bool:
    """A route that names an object of a contract: outsiders get 404, whatever else the row says."""
    return bool(object_params(params, row.params))


def swappable(params: tuple[str, ...], row: Api | Ui) -> list[str]:
    """The object parameters, but the contract itself, that the cross-contract check swaps."""
    return [
        name
        for name in object_params(params, row.params)
        if name != "contract_id" and name not in row.same_in_every_contract
    ]


def cross_contract_swaps(m: Matrix, params: tuple[str, ...], row: Api | Ui) -> list[tuple[str, Any]]:
    """(parameter, the other contract's value) for every swappable parameter."""
    return [(name, PARAMS[name].value(m.other, m.world.outsider)) for name in swappable(params, row)]


# --- UI -------------------------------------------------------------------------------------------------------


def ui_request(m: Matrix, route: UiRoute, row: Ui, persona: str, method: str, **swap: Any) -> Outcome:
    """One request of *row* as *persona* in a fresh browser session past the second factor."""
    call = Call(m.main, m.user(persona))
    path = route.path({**fill(route.params, m.main, m.user(persona), row.params), **swap})
    form = (row.post_data(call) if row.post_data else {}) if method == "post" else None
    query = row.query(call) if callable(row.query) else row.query
    with rolled_back():
        return send(m.browser(persona), method, path, form=form, query=query)


def judge_ui(m: Matrix, route: UiRoute, row: Ui, persona: str, method: str, outcome: Outcome) -> list[str]:
    secrets = m.secrets_of_main() if persona in ("outsider", "anonymous") else m.secrets_of_other()
    return judge(outcome, row.expect(method)[persona], persona, secrets=secrets)


__all__ = ["LOGIN", "MEMBERS", "NOT_FOUND_BODY", "Outcome", "send"]
