"""Every page, from the matrix's own enumeration of the URL conf: the security headers and a CSP that names
nothing outside this deployment; no reference in the HTML to another host; a CSRF token in every form, and a
POST without it refused."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.test import Client

from tests.matrix.conftest import MEMBERS, rolled_back
from tests.matrix.discovery import ui_routes
from tests.matrix.expectations import OK, UI, Call, Ui
from tests.matrix.objects import fill
from tests.matrix.runner import send

pytestmark = pytest.mark.django_db

ROUTES = ui_routes()
EXTERNAL = ("http:", "https:", "//", "*", "ws:", "wss:")


def _reader(row: Ui, method: str = "get") -> str | None:
    """A member persona the table gives a 200 for the route (a page with a body to inspect)."""
    expected = row.get if method == "get" else row.post
    if not expected:
        return None
    return next((p for p in MEMBERS if expected.get(p) == OK), None)


PAGES = sorted(name for name, row in UI.items() if name in ROUTES and _reader(row))
POSTS = sorted(name for name, row in UI.items() if name in ROUTES and row.post is not None)


def _get(m, name: str, persona: str):
    route, row = ROUTES[name], UI[name]
    user = m.user(persona)
    path = route.path(fill(route.params, m.main, user, row.params))
    query = row.query(Call(m.main, user)) if callable(row.query) else row.query
    with rolled_back():
        return send(m.browser(persona), "get", path, query=query), path


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.forms: list[dict[str, object]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for attr in ("src", "href", "action", "formaction", "data", "poster", "hx-get", "hx-post"):
            if a.get(attr):
                self.urls.append(str(a[attr]))
        if tag == "form":
            self.forms.append(
                {"method": (a.get("method") or "get").lower(), "action": a.get("action"), "token": False}
            )
        if tag == "input" and a.get("name") == "csrfmiddlewaretoken" and self.forms:
            self.forms[-1]["token"] = True


def _headers_problems(response, path: str) -> list[str]:
    problems = []
    csp = response.get("Content-Security-Policy", "")
    if not csp:
        problems.append("no Content-Security-Policy")
    for directive in filter(None, (d.strip() for d in csp.split(";"))):
        name, *sources = directive.split()
        bad = [s for s in sources if s.startswith(EXTERNAL) or (s.endswith(":") and s != "data:")]
        if bad:
            problems.append(f"CSP {name} allows {bad}")
    for header, value in (
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
    ):
        if response.get(header) != value:
            problems.append(f"{header} is {response.get(header)!r}, not {value!r}")
    return [f"{path}: {p}" for p in problems]


@pytest.mark.parametrize("name", PAGES)
def test_every_page_sends_the_security_headers_and_refers_to_nothing_outside(matrix, name):
    outcome, path = _get(matrix, name, _reader(UI[name]))
    assert outcome.status == OK, outcome.brief()
    problems = _headers_problems(outcome.headers, path)
    if "html" in outcome.content_type:
        page = _Html()
        page.feed(outcome.text())
        outside = [u for u in page.urls if urlsplit(u).scheme in ("http", "https") or u.startswith("//")]
        outside = [u for u in outside if urlsplit(u).hostname not in ("127.0.0.1", "testserver", "localhost")]
        if outside:
            problems.append(f"{path}: refers to other hosts: {outside}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", PAGES)
def test_every_form_carries_a_csrf_token(matrix, name):
    outcome, path = _get(matrix, name, _reader(UI[name]))
    if "html" not in outcome.content_type:
        pytest.skip("not a page")
    page = _Html()
    page.feed(outcome.text())
    bare = [f for f in page.forms if f["method"] == "post" and not f["token"]]
    assert not bare, f"{path}: POST forms without csrfmiddlewaretoken: {bare}"


def test_refusals_and_anonymous_visits_carry_the_headers_too(matrix):
    client = Client()
    for path in ("/", "/login/", f"/contracts/{matrix.main.contract.pk}/", "/no-such-page/", "/api/v1/me"):
        response = client.get(path)
        assert not _headers_problems(response, path), (path, _headers_problems(response, path))


@pytest.mark.parametrize("name", POSTS)
def test_a_post_without_the_csrf_token_is_refused(matrix, name):
    """Whatever the form, from a logged-in browser: no token, 403 — before the view runs."""
    from tests.conftest import verified_client

    route, row = ROUTES[name], UI[name]
    user = matrix.world.manager
    path = route.path(fill(route.params, matrix.main, user, row.params))
    data = row.post_data(Call(matrix.main, user)) if row.post_data else {}
    with rolled_back():
        client = verified_client(user)
        client.handler.enforce_csrf_checks = True
        response = client.post(path, data=data)
    assert response.status_code == 403, (path, response.status_code)


def test_an_api_call_with_the_session_but_without_the_csrf_token_is_refused(matrix):
    from tests.conftest import verified_client

    with rolled_back():
        client = verified_client(matrix.world.manager)
        client.handler.enforce_csrf_checks = True
        response = client.post(
            f"/api/v1/contracts/{matrix.main.contract.pk}/incidents",
            data="{}",
            content_type="application/json",
        )
    assert response.status_code == 403
    assert set(response.json()) >= {"error", "clause", "message"}
