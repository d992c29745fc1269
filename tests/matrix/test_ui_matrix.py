"""Every page of the URL conf (but the API's operations, which test_api_matrix covers), requested as every
persona, against the one table (tests/matrix/expectations.py UI). A page without a row fails here."""

from __future__ import annotations

import pytest

from .conftest import MEMBERS, PERSONAS
from .discovery import ui_routes
from .expectations import FORBIDDEN, NOT_FOUND, UI
from .objects import PARAMS
from .runner import cross_contract_swaps, is_contract_scoped, judge_ui, swappable, ui_request

pytestmark = pytest.mark.django_db  # the rows run in the module's world (tests/matrix/conftest.py)

ROUTES = ui_routes()
NAMES = sorted(set(ROUTES) | set(UI))


def test_every_page_has_a_row_and_every_row_a_page():
    missing = sorted(set(ROUTES) - set(UI))
    stale = sorted(set(UI) - set(ROUTES))
    assert not missing, (
        "pages without a row in tests/matrix/expectations.py UI — add one for each "
        "(`pytest tests/matrix/observe.py -s -k '<name>'` shows what each persona gets now):\n"
        + "\n".join(f'    "{name}": Ui(...),  # {ROUTES[name].route}' for name in missing)
    )
    assert not stale, "rows for pages that no longer exist — remove them: " + ", ".join(stale)


def test_every_path_parameter_of_a_page_has_a_factory():
    unknown = sorted(
        {p for name, r in ROUTES.items() for p in r.params if p not in PARAMS and p not in _fixed(name)}
    )
    assert not unknown, (
        f"path parameters without a factory: {unknown} — add each to PARAMS in tests/matrix/objects.py"
    )


def _fixed(name: str) -> dict[str, object]:
    row = UI.get(name)
    return row.params if row else {}


def _methods(name: str) -> list[str]:
    row = UI.get(name)
    if row is None:
        return ["get"]
    return [m for m, e in (("get", row.get), ("post", row.post)) if e is not None]


CASES = [(name, method) for name in NAMES for method in _methods(name)]


@pytest.mark.parametrize(("name", "method"), CASES, ids=[f"{m.upper()} {n}" for n, m in CASES])
def test_each_persona_gets_what_the_table_says(matrix, name, method):
    if name not in ROUTES:
        pytest.fail(f"the row {name!r} names no route of the URL conf: remove it from expectations.UI")
    if name not in UI:
        pytest.fail(
            f"no row for the page {name!r} ({ROUTES[name].route}) in tests/matrix/expectations.UI: add one"
        )
    route, row = ROUTES[name], UI[name]
    if is_contract_scoped(route.params, row):
        assert row.expect(method)["outsider"] == NOT_FOUND, (
            "a page naming an object of a contract gives outsiders 404"
        )
    problems = []
    for persona in PERSONAS:
        problems += judge_ui(
            matrix, route, row, persona, method, ui_request(matrix, route, row, persona, method)
        )
    assert not problems, f"{method.upper()} {route.route} ({name}):\n  " + "\n  ".join(problems)


WITH_OBJECTS = [(n, m) for n, m in CASES if n in ROUTES and n in UI and swappable(ROUTES[n].params, UI[n])]


@pytest.mark.parametrize(("name", "method"), WITH_OBJECTS, ids=[f"{m.upper()} {n}" for n, m in WITH_OBJECTS])
def test_objects_of_another_contract_are_not_found(matrix, name, method):
    """The main contract's pages with an object of the other contract: 404 for every member (or the 403 the
    member gets from the main contract itself)."""
    route, row = ROUTES[name], UI[name]
    expected = row.expect(method)
    problems = []
    for param, value in cross_contract_swaps(matrix, route.params, row):
        for persona in MEMBERS:
            outcome = ui_request(matrix, route, row, persona, method, **{param: value})
            allowed = {NOT_FOUND, FORBIDDEN} if expected[persona] == FORBIDDEN else {NOT_FOUND}
            if outcome.status not in allowed:
                problems.append(
                    f"{persona} with {param} of the other contract: expected 404, got {outcome.brief()}"
                )
    assert not problems, f"{method.upper()} {route.route} ({name}):\n  " + "\n  ".join(problems)
