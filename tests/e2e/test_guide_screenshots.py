"""The user guide's screenshots, taken by walking through each role's real tasks in a real browser.

The walk runs against a server of its own (migrate, demo, serve — as in conftest.py, but not shared with the
other browser tests, whose data it would change): staff, the information manager and the orderer officer do
their work on the demo contract, and at each step the page is asserted (so a broken page fails the test) and
photographed at 1280×800, in Japanese into docs/guide/img/ and in English into docs/guide/img/en/.

Every actor has two browser contexts on one login session: the Japanese one, where the work is done, and an
English one, switched with the page's own language buttons, that shows the same page. The PNGs are reduced to
256 colours in the browser itself (a canvas; no image library needed) so the guide stays small.

`test_docs_reference_only_screenshots_this_test_takes` keeps the guides honest: every image a Markdown file
under docs/ shows must be one of SHOTS, so no hand-made or stale picture can be referenced.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import struct
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.tools import once_per_make_test

from .conftest import (
    DEMO_PASSWORD,
    ROOT,
    _free_port,
    _sekisho,
    _wait_until_healthy,
)
from .guide_walk import SHOTS, walk

DOCS = ROOT / "docs"
IMG = DOCS / "guide" / "img"
IMG_DIRS = {"ja": IMG, "en": IMG / "en"}
VIEWPORT = {"width": 1280, "height": 800}
WORKERS = ("--workers", "1")


# --- the server of this module ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guide_server() -> Iterator[tuple[str, Path]]:
    """The demo served on a data directory (and, on PostgreSQL, a database) of this module's own."""
    import subprocess
    import sys

    once_per_make_test("postgresql")  # screenshots for the guides: taken once per `make test`
    data_dir = Path(tempfile.mkdtemp(prefix="sekisho-guide-"))
    env = {**os.environ, "SEKISHO_DATA_DIR": str(data_dir), "SEKISHO_SECURE_COOKIES": "0"}
    for name in ("SEKISHO_VAULT_DIR", "DJANGO_SETTINGS_MODULE", "SEKISHO_AGENT_HOME"):
        env.pop(name, None)
    with _database(os.environ.get("DATABASE_URL", "")) as url:
        if url:
            env["DATABASE_URL"] = url
        else:
            env.pop("DATABASE_URL", None)
        _sekisho("migrate", "-v0", env=env)
        _sekisho("demo", "--password", DEMO_PASSWORD, env=env)
        port = _free_port()
        log_path = data_dir / "server.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "sekisho",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    *WORKERS,
                ],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until_healthy(f"{base}/healthz", proc, log_path)
            yield base, log_path
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            shutil.rmtree(data_dir, ignore_errors=True)


class _database:
    """A throwaway PostgreSQL database when the run uses PostgreSQL; None (SQLite) otherwise."""

    def __init__(self, url: str) -> None:
        self.url = url if url.startswith(("postgres://", "postgresql://", "pgsql://")) else ""
        self.name = f"sekisho_guide_e2e_{os.getpid()}"

    def _admin(self, statement: str) -> None:
        import psycopg
        from psycopg import sql

        parts = urlsplit(self.url)
        admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL(statement).format(sql.Identifier(self.name)))

    def __enter__(self) -> str | None:
        if not self.url:
            return None
        self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        self._admin("CREATE DATABASE {}")
        return urlunsplit(urlsplit(self.url)._replace(path=f"/{self.name}"))

    def __exit__(self, *exc: object) -> None:
        if self.url:
            self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)")


# --- screenshots --------------------------------------------------------------------------------------------

# Runs in a blank page: decode the screenshot, count its colours, keep the 256 most frequent and map every
# other colour to the nearest of them, then write an 8-bit palette PNG (deflated by the browser's own
# CompressionStream). UI screenshots have a few thousand colours, mostly anti-aliasing, so the result looks the
# same at a third of the size, and no image library is needed.
_SHRINK = r"""
async (b64) => {
  const img = new Image();
  img.src = "data:image/png;base64," + b64;
  await img.decode();
  const w = img.width, h = img.height;
  const canvas = document.createElement("canvas");
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const rgba = new Uint32Array(ctx.getImageData(0, 0, w, h).data.buffer);
  // Tables indexed by the 24-bit colour, kept between calls (only the colours seen are reset).
  const counts = (window.counts ||= new Uint32Array(1 << 24));
  const index = (window.index ||= new Uint8Array(1 << 24));
  const seen = [];
  for (let i = 0; i < rgba.length; i++) {
    const k = rgba[i] & 0xffffff;
    if (counts[k]++ === 0) seen.push(k);
  }
  seen.sort((a, b) => counts[b] - counts[a] || a - b);
  const palette = seen.slice(0, 256);
  palette.forEach((k, i) => { index[k] = i; });
  for (const k of seen.slice(256)) {
    let best = 0, bestDistance = Infinity;
    for (let i = 0; i < palette.length; i++) {
      const p = palette[i];
      const dr = (k & 255) - (p & 255), dg = ((k >> 8) & 255) - ((p >> 8) & 255), db = (k >> 16) - (p >> 16);
      const d = 3 * dr * dr + 4 * dg * dg + 2 * db * db;
      if (d < bestDistance) { bestDistance = d; best = i; }
    }
    index[k] = best;
  }
  const rows = new Uint8Array((w + 1) * h);  // each row: filter type 0, then one palette index per pixel
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) rows[y * (w + 1) + 1 + x] = index[rgba[y * w + x] & 0xffffff];
  }
  for (const k of seen) counts[k] = 0;
  const deflate = (bytes) => new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate")))
    .arrayBuffer().then((buffer) => new Uint8Array(buffer));
  const table = (window.crcTable ||= Array.from({length: 256}, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  }));
  const chunk = (type, data) => {
    const out = new Uint8Array(12 + data.length), view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
    out.set(data, 8);
    let c = 0xffffffff;
    for (const byte of out.subarray(4, 8 + data.length)) c = table[(c ^ byte) & 255] ^ (c >>> 8);
    view.setUint32(8 + data.length, (c ^ 0xffffffff) >>> 0);
    return out;
  };
  const header = new Uint8Array(13), headerView = new DataView(header.buffer);
  headerView.setUint32(0, w); headerView.setUint32(4, h);
  header.set([8, 3, 0, 0, 0], 8);  // 8 bits, palette colour, deflate, no filtering method, no interlace
  const plte = new Uint8Array(palette.length * 3);
  palette.forEach((c, i) => plte.set([c & 255, (c >> 8) & 255, c >> 16], i * 3));
  const parts = [
    new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", header), chunk("PLTE", plte), chunk("IDAT", await deflate(rows)), chunk("IEND", new Uint8Array(0)),
  ];
  const png = new Uint8Array(await new Blob(parts).arrayBuffer());
  let text = "";
  for (let i = 0; i < png.length; i += 8192) text += String.fromCharCode.apply(null, png.subarray(i, i + 8192));
  return btoa(text);
}
"""


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, after checking every chunk's CRC and that the pixel data inflates to
    exactly the rows the header promises (so a broken image fails the test, not the reader of the guide)."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), "not a PNG"
    pos, chunks = 8, dict[bytes, bytes]()
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body), f"bad CRC in {kind!r}"
        chunks[kind] = chunks.get(kind, b"") + body if kind == b"IDAT" else body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (1 + width * channels * depth // 8)
    assert b"IEND" in chunks
    return width, height


@dataclass
class Camera:
    """Takes the screenshots, shrinks them in its own blank page and writes them into the docs."""

    workbench: Any
    taken: dict[str, list[str]] = field(default_factory=lambda: {"ja": [], "en": []})

    def take(self, page: Any, lang: str, name: str, mask: tuple[str, ...] = ()) -> None:
        assert name in SHOTS, f"{name} is not in SHOTS"
        assert name not in self.taken[lang], f"{name} ({lang}) taken twice"
        page.wait_for_load_state()
        raw = page.screenshot(
            full_page=False,
            animations="disabled",
            caret="hide",
            mask=[page.locator(selector) for selector in mask],
            mask_color="#c9d3e0",
        )
        png = base64.b64decode(self.workbench.evaluate(_SHRINK, base64.b64encode(raw).decode()))
        assert png_size(png) == png_size(raw) == (VIEWPORT["width"], VIEWPORT["height"])
        path = IMG_DIRS[lang] / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png if len(png) < len(raw) else raw)
        self.taken[lang].append(name)


@dataclass
class Problems:
    """What the pages did wrong: requests off the machine, CSP refusals, uncaught script errors."""

    items: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> Any:
        page.on(
            "request",
            lambda r: (
                self.items.append(f"external request {r.url}")
                if urlsplit(r.url).hostname not in ("127.0.0.1", None)
                else None
            ),
        )
        page.on(
            "console",
            lambda m: (
                self.items.append(f"console: {m.text}")
                if m.type == "error" and "Content Security Policy" in m.text
                else None
            ),
        )
        page.on("pageerror", lambda exc: self.items.append(f"script error: {exc}"))
        page.on("dialog", lambda dialog: dialog.accept())
        return page


@pytest.mark.browser
def test_guide_walkthrough_takes_every_screenshot(
    browser: Any, guide_server: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each role's tasks on the demo contract, asserted and photographed in Japanese and English."""
    monkeypatch.setenv("SEKISHO_AGENT_HOME", str(tmp_path / "agent"))
    for directory in IMG_DIRS.values():  # no picture of an earlier run may survive unnoticed
        for old in directory.glob("*.png"):
            old.unlink()
    problems = Problems()
    bench = browser.new_context()
    contexts: list[Any] = [bench]

    def new_context(lang: str) -> Any:
        context = browser.new_context(
            locale="ja-JP" if lang == "ja" else "en-GB",
            timezone_id="Asia/Tokyo",
            viewport=VIEWPORT,
            service_workers="block",
            accept_downloads=True,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    try:
        camera = Camera(workbench=bench.new_page())
        walk(guide_server[0], camera, new_context, problems.watch, tmp_path)
    except Exception:
        print("--- server log (tail) ---\n", guide_server[1].read_text(errors="replace")[-6000:])
        raise
    finally:
        for context in contexts:
            context.close()
    assert problems.items == []
    for lang in IMG_DIRS:
        assert sorted(camera.taken[lang]) == sorted(SHOTS), f"screenshots missing in {lang}"
    total = sum(p.stat().st_size for d in IMG_DIRS.values() for p in d.glob("*.png"))
    assert total < 6 * 1024 * 1024, f"the guide's images take {total} bytes"


# --- the guides show only what the walk photographs ---------------------------------------------------------

_IMAGE_REF = re.compile(
    r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|<img\b[^>]*\bsrc=[\"']([^\"']+)"
)


def _referenced_images() -> list[tuple[Path, Path]]:
    refs = []
    for md in sorted(DOCS.rglob("*.md")):
        for match in _IMAGE_REF.finditer(md.read_text(encoding="utf-8")):
            target = match.group(1) or match.group(2)
            if re.match(r"[a-z]+:", target):
                refs.append((md, Path(target)))  # a URL: refused below (the guide works offline)
            else:
                refs.append((md, (md.parent / target.split("#")[0]).resolve()))
    return refs


def test_docs_reference_only_screenshots_this_test_takes() -> None:
    expected = {(IMG_DIRS[lang] / f"{name}.png").resolve() for lang in IMG_DIRS for name in SHOTS}
    refs = _referenced_images()
    assert refs, "no image is referenced from docs/ at all"
    wrong = [f"{md.relative_to(ROOT)} -> {img}" for md, img in refs if img not in expected]
    assert wrong == [], "images that test_guide_walkthrough_takes_every_screenshot does not take"
    missing = [f"{md.relative_to(ROOT)} -> {img}" for md, img in refs if not img.is_file()]
    assert missing == [], "referenced images that do not exist: run the guide screenshot test"
    stray = sorted(
        str(p.relative_to(ROOT))
        for d in IMG_DIRS.values()
        for p in d.glob("*")
        if p.is_file() and p.resolve() not in expected
    )
    assert stray == [], "files in the guide's image folders that the test does not produce"


def test_each_guide_shows_its_screenshots_in_its_own_language() -> None:
    for md in sorted((DOCS / "guide").glob("*.md")):
        lang = "en" if md.name.endswith(".en.md") else "ja"
        images = [img for path, img in _referenced_images() if path == md]
        assert images, f"{md.name} shows no screenshot"
        assert all(img.parent == IMG_DIRS[lang].resolve() for img in images), md.name
