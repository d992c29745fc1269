"""Production-mode tests: a real PostgreSQL database of their own, whatever database the rest of the run uses.

The database is a throwaway ``sekisho_prod_<pid>`` made through tests/faults/server.py's
``throwaway_database`` (and dropped after). PostgreSQL is the one named by DATABASE_URL when that is a
PostgreSQL URL, else the development server on 127.0.0.1:5432 (user postgres, trust). When it does not answer
the tests are skipped — or fail, with SEKISHO_REQUIRE_POSTGRES=1 (CI).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.faults.server import throwaway_database
from tests.tools import once_per_make_test

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/sekisho"


def postgres_server_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else DEFAULT_POSTGRES


def _answers(url: str) -> str | None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    try:
        with psycopg.connect(admin, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip()


@pytest.fixture(scope="module")
def prod_database() -> Iterator[str]:
    once_per_make_test("sqlite")  # its own throwaway PostgreSQL database, whatever the suite's database is
    url = postgres_server_url()
    problem = _answers(url)
    if problem:
        message = f"PostgreSQL at {urlsplit(url).netloc} does not answer: {problem}"
        if os.environ.get("SEKISHO_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"SEKISHO_REQUIRE_POSTGRES=1 but {message}", pytrace=False)
        pytest.skip(f"PRODUCTION SERVER TEST SKIPPED: {message} (SEKISHO_REQUIRE_POSTGRES=1 makes it fail)")
    with contextlib.ExitStack() as stack:
        with pytest.MonkeyPatch.context() as patch:  # throwaway_database reads DATABASE_URL when it starts
            patch.setenv("DATABASE_URL", url)
            database_url = stack.enter_context(throwaway_database("prod"))
        assert database_url is not None
        yield database_url
