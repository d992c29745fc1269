"""System tools some tests drive (pdftoppm, pdffonts, soffice, age). `make test` installs them when it can; when
one is missing the test is skipped loudly, except in CI (SEKISHO_REQUIRE_TOOLS=1), where it fails."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed (Debian packages: see scripts/ensure-test-tools)"
    if os.environ.get("SEKISHO_REQUIRE_TOOLS") == "1":
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError("unreachable")


def dark_fraction_of_pdf_page(pdf_path: str, page: int = 1, dpi: int = 40) -> float:
    """Render one page to a greyscale PGM with pdftoppm and return the fraction of dark pixels."""
    import subprocess

    pdftoppm = require_tool("pdftoppm")
    out = subprocess.run(
        [pdftoppm, "-gray", "-r", str(dpi), "-f", str(page), "-l", str(page), pdf_path],
        check=True,
        capture_output=True,
    ).stdout
    # Binary PGM: "P5\n<w> <h>\n<max>\n" then w*h bytes.
    parts = out.split(b"\n", 3)
    width, height = (int(x) for x in parts[1].split())
    pixels = parts[3][: width * height]
    return sum(1 for p in pixels if p < 128) / max(1, len(pixels))


def once_per_make_test(run_in: str) -> None:
    """Run a test in only one of `make test`'s two passes when both run (SEKISHO_REQUIRE_POSTGRES=1, as in CI);
    *run_in* is "sqlite" or "postgresql". For tests whose subject does not depend on the suite's own database:
    those that build their own deployments (backup/restore on both databases, the production server on its own
    PostgreSQL database) and the walk that takes the guides' screenshots. Running them twice would only double
    CI time. Without SEKISHO_REQUIRE_POSTGRES they run in whichever pass runs."""
    import os

    assert run_in in ("sqlite", "postgresql"), run_in
    if os.environ.get("SEKISHO_REQUIRE_POSTGRES") != "1":
        return
    this_pass = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    if this_pass != run_in:
        pytest.skip(f"runs once per make test: in its {run_in} pass")
