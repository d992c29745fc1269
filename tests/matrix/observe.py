"""Print what every persona gets from each route now — a help for writing a row of expectations.py.

    pytest tests/matrix/observe.py -s -q -k "incidents"

(Not collected by a plain ``pytest``: the file name does not start with ``test_``.) For a route that has a
row already, the row's body, query and parameters are used; otherwise the route is called without a body.
The output is a draft: check every figure against the access policy before copying it into the table.
"""

from __future__ import annotations

import pytest

from .conftest import PERSONAS
from .discovery import api_operations, ui_routes
from .expectations import API, UI, Api, Ui, _all, matches
from .runner import api_request, ui_request

pytestmark = pytest.mark.django_db  # the test database is made for modules that ask for it
OPS = api_operations()
ROUTES = ui_routes()


@pytest.mark.parametrize("key", sorted(OPS), ids=lambda k: f"{k[0]} {k[1]}")
def test_observe_api(matrix, key):
    op = OPS[key]
    row = API.get(key) or Api(members=_all(0))
    seen = {p: api_request(matrix, op, row, p) for p in PERSONAS}
    print(f"\n{key}:{'' if key in API else ' (no row yet)'}")
    for persona, outcome in seen.items():
        mark = "  " if key in API and matches(outcome, row.expect[persona]) else "≠ "
        print(f"  {mark}{persona:<10} {outcome.brief()[:400]}")


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_observe_ui(matrix, name):
    route = ROUTES[name]
    row = UI.get(name) or Ui(get=_all(0), post=_all(0))
    print(f"\n{name} {route.route}:{'' if name in UI else ' (no row yet)'}")
    for method in ("get", "post"):
        expected = row.expect(method) if (row.get if method == "get" else row.post) is not None else None
        for persona in PERSONAS:
            outcome = ui_request(matrix, route, row, persona, method)
            mark = "  " if expected is None or matches(outcome, expected[persona]) else "≠ "
            if name not in UI:
                mark = "? "
            print(f"  {mark}{method:<4} {persona:<10} {outcome.brief()[:300]}")
