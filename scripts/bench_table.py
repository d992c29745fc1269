"""The table of `make bench`: every figure of every benchmark, its goal and its ratio to a baseline of the same
run, with the machine's own limits measured in the same run (`cp` and `sha256sum` of one 512 MiB file).

`make bench` pipes the output of all bench/bench_*.py runs (once per database) through this script, which
passes every line on as it comes and prints the table at the end. Figures are the scripts' `BENCH|…` lines,
which every script prints through bench/_report.py `report()`; a script that printed none is listed as "not in
table". Exit status 1 when any script failed (a `BENCH-EXIT|<script>|<db>|<status>` line with a status other
than 0).

    … | python scripts/bench_table.py [--markdown FILE] [--limits-dir DIR] [--no-limits]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from _report import PREFIX, met

SECTION = re.compile(r"^== (?P<script>\S+\.py) \((?P<db>[^)]+)\) ==$")
MIB = 1 << 20


@dataclass
class Figure:
    script: str
    db: str
    name: str
    value: float
    unit: str
    goal: str = ""
    ratio: str = ""
    baseline: str = ""

    @property
    def verdict(self) -> str:
        ok = met(self.value, self.goal) if self.goal else None
        return "" if ok is None else ("met" if ok else "MISSED")


@dataclass
class Section:
    script: str
    db: str
    figures: list[Figure] = field(default_factory=list)
    status: int | None = None


# --- collecting -------------------------------------------------------------------------------------------------


def figure_of(line: str, section: Section) -> Figure:
    name, value, unit, goal, ratio, baseline = line.removeprefix(PREFIX).split("|", 5)
    return Figure(section.script, section.db, name, float(value), unit, goal, ratio, baseline)


def collect(stream: TextIO) -> list[Section]:
    sections: list[Section] = []
    current: Section | None = None
    for raw in stream:
        sys.stdout.write(raw)
        sys.stdout.flush()
        line = raw.rstrip("\n")
        head = SECTION.match(line)
        if head:
            current = Section(head["script"], head["db"])
            sections.append(current)
        elif line.startswith("BENCH-EXIT|"):
            _tag, script, db, status = line.split("|", 3)
            match = [s for s in sections if s.script == script and s.db == db]
            if match:
                match[-1].status = int(status)
        elif current is not None and line.startswith(PREFIX):
            current.figures.append(figure_of(line, current))
    return sections


# --- the machine ------------------------------------------------------------------------------------------------


def machine() -> str:
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem = next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal"))
        ram = f"{int(mem.split()[1]) / (1 << 20):.0f} GiB RAM"
    except (OSError, StopIteration):
        ram = "? RAM"
    return f"{os.cpu_count()} CPUs ({model}), {ram}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def machine_limits(directory: Path) -> list[Figure]:
    """cp and sha256sum of one 512 MiB file, now: what this machine's disk and one core manage."""
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sekisho-limits-", dir=directory) as tmp:
        src, dst = Path(tmp) / "limits.bin", Path(tmp) / "copy.bin"
        block = os.urandom(16 * MIB)
        with src.open("wb") as fh:
            for _ in range(32):
                fh.write(block)
        os.sync()
        figures = []
        for name, command in (
            ("machine.cp_512MiB", ["cp", str(src), str(dst)]),
            ("machine.sha256sum_512MiB", ["sha256sum", str(src)]),
        ):
            if shutil.which(command[0]) is None:
                continue
            runs = []
            for _ in range(3):
                started = time.perf_counter()
                subprocess.run(command, check=True, stdout=subprocess.DEVNULL)  # noqa: S603 - cp / sha256sum
                runs.append(time.perf_counter() - started)
                dst.unlink(missing_ok=True)
            seconds = min(runs)
            figures.append(Figure("(this script)", "-", f"{name} ({512 / seconds:.0f} MiB/s)", seconds, "s"))
    return figures


# --- printing ---------------------------------------------------------------------------------------------------

COLUMNS = ("script", "db", "figure", "value", "unit", "goal", "ratio", "baseline (same run)", "verdict")


def rows(sections: list[Section], limits: list[Figure]) -> list[tuple[str, ...]]:
    out = []
    for f in [*limits, *(f for s in sections for f in s.figures)]:
        value = f"{f.value:,.3g}" if abs(f.value) < 1000 else f"{f.value:,.0f}"
        out.append((Path(f.script).name, f.db, f.name, value, f.unit, f.goal, f.ratio, f.baseline, f.verdict))
    return out


def text_table(table: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(r[i])) for r in [COLUMNS, *table]) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [COLUMNS, *table]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(table: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in table]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown to this file")
    parser.add_argument("--limits-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--no-limits", action="store_true", help="skip the cp / sha256sum measurement")
    args = parser.parse_args()

    sections = collect(sys.stdin)
    limits = [] if args.no_limits else machine_limits(args.limits_dir)
    table = rows(sections, limits)
    missing = sorted({f"{Path(s.script).name} ({s.db})" for s in sections if not s.figures})
    failed = sorted(
        f"{Path(s.script).name} ({s.db}): exit {s.status}" for s in sections if s.status not in (None, 0)
    )
    when = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    load = os.getloadavg()[0]
    header = f"make bench — {when} — {machine()} — load average {load:.1f}"
    print()
    print("=" * min(len(header), 120))
    print(header)
    print(text_table(table))
    if missing:
        print("not in table (no BENCH line): " + ", ".join(missing))
    if failed:
        print("FAILED: " + "; ".join(failed))
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        note = ["", f"Not in table (no BENCH line): {', '.join(missing)}."] if missing else []
        args.markdown.write_text(
            f"{header}\n\n{markdown_table(table)}\n" + "\n".join(note) + "\n", encoding="utf-8"
        )
        print(f"(Markdown: {args.markdown})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
