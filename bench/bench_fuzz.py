"""The long schema fuzzing run (issue: proof, part 2), run by `make bench` once on SQLite and once on PostgreSQL.

The same test as CI (tests/fuzz/test_schema.py: every operation of /api/v1/openapi.json as the information
manager, no 5xx, answers within the schema), with many more examples per operation and a random seed instead
of CI's fixed one. On PostgreSQL it runs in a test database of its own name (test_sekisho_bench_fuzz), so that
it never meets a test run's.

Usage: python bench/bench_fuzz.py [--examples 50]   (SEKISHO_BENCH_FUZZ_EXAMPLES also sets it)
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import report

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--examples", type=int, default=int(os.environ.get("SEKISHO_BENCH_FUZZ_EXAMPLES", "50"))
    )
    args = parser.parse_args()
    env = {**os.environ, "SEKISHO_FUZZ_EXAMPLES": str(args.examples), "SEKISHO_FUZZ_RANDOM": "1"}
    url = env.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        parts = urllib.parse.urlsplit(url)
        env["DATABASE_URL"] = urllib.parse.urlunsplit(parts._replace(path="/sekisho_bench_fuzz"))
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/fuzz", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|error|xfailed|xpassed)", summary)}
    if not counts:
        print(result.stdout[-3000:], result.stderr[-3000:], sep="\n")
        raise SystemExit("the fuzzing run printed no result")
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED") or "curl -X" in line]
    print(
        f"schema fuzzing, {args.examples} examples per operation, random seed: {summary} in {seconds:.0f} s"
    )
    for line in failed[:40]:
        print("  " + line.strip())
    operations = sum(counts.values())
    report("fuzz.operations", operations, "count")
    report(
        "fuzz.failing_operations", counts.get("failed", 0) + counts.get("error", 0), "count", goal=("==", 0)
    )
    report("fuzz.seconds", seconds, "s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
