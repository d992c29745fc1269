"""Benchmark of the compliance evaluation (issue #9, part 2): one contract with 100k assets, 500 staff (members
and roster) and 1,000 devices, plus incidents and subcontractors, run by `make bench` once on SQLite and once on
PostgreSQL (DATABASE_URL). It creates its own throwaway database and drops it; no real database is touched.

The rows come from tests/compliance/populate.py (bulk_create; the mix the query-count test uses): 1% of the
assets each break one of three clauses (important files on PCs, personal information without a purpose, copies
under a revoked permit: 3,000 findings; --every 10 makes it 30,000), a third of the device approvals have
expired, half the staff have not acknowledged the training, half the subcontractors have not acknowledged the
flow-down, every incident is past its 速報.

Figures, each against a baseline measured in the same run (a plain COUNT(*) over the contract's assets):
  1. the first evaluation, which opens every finding (goal ≤ 2 s)
  2. the scheduled re-evaluation, which finds the same and only keeps its findings (goal ≤ 2 s)
  3. the re-evaluation's query count at this size, against the count at 5 rows of everything (must be equal;
     tests/compliance/test_evaluation.py asserts the same for first evaluations at 5 and 50)

Usage: python bench/bench_compliance.py [--assets N] [--staff N] [--devices N] [--every N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.compliance.populate and tests.people.clearing
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sekisho.settings")

import django  # noqa: E402

django.setup()

from _report import report  # noqa: E402
from bench_ledger import Throwaway, make_contract, make_people  # noqa: E402
from django.db import connection  # noqa: E402

GOAL_S = 2.0
RUNS = 3


def timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def count_assets(contract: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM ledger_asset WHERE contract_id = %s", [contract.pk])
        cursor.fetchone()


def queries_of(contract: Any) -> int:
    from django.test.utils import CaptureQueriesContext

    from sekisho.compliance.services import evaluate_contract

    with CaptureQueriesContext(connection) as captured:
        evaluate_contract(contract)
    return len(captured.captured_queries)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--staff", type=int, default=500)
    parser.add_argument("--devices", type=int, default=1_000)
    parser.add_argument(
        "--every",
        type=int,
        default=100,
        help="one asset in EVERY breaks each ledger rule (default: 1%% each)",
    )
    args = parser.parse_args()

    from tests.compliance.populate import Sizes, populate

    from sekisho.compliance.models import Finding
    from sekisho.compliance.services import evaluate_contract

    db = "PostgreSQL" if connection.vendor == "postgresql" else "SQLite"
    sizes = Sizes(
        assets=args.assets,
        staff=args.staff,
        devices=args.devices,
        incidents=max(1, args.staff // 10),
        subcontracts=max(1, args.staff // 25),
        every=args.every,
    )
    with tempfile.TemporaryDirectory() as tmp, Throwaway(Path(tmp)):
        people = make_people()
        small = make_contract(people, "BENCH-S")
        large = make_contract(people, "BENCH-L")
        start = time.perf_counter()
        populate(small, people["manager"], people["staff"], Sizes.scaled(5), tag="s")
        populate(large, people["manager"], people["staff"], sizes, tag="l")
        print(
            f"[{db}] fixture: {sizes.assets:,} assets, {sizes.staff} staff, {sizes.devices:,} devices, "
            f"{sizes.incidents} incidents, {sizes.subcontracts} subcontractors in {time.perf_counter() - start:.1f} s"
        )
        baseline = statistics.median(timed(lambda: count_assets(large)) for _ in range(5))
        small_first, small_again = queries_of(small), queries_of(small)
        first = timed(lambda: evaluate_contract(large))
        findings = Finding.objects.filter(contract=large, resolved_at__isnull=True).count()
        again = statistics.median(timed(lambda: evaluate_contract(large)) for _ in range(RUNS))
        large_queries = queries_of(large)
        print(f"[{db}] first evaluation: {first:.3f} s, {findings:,} findings opened")
        print(f"[{db}] re-evaluation (median of {RUNS}): {again:.3f} s")
        print(
            f"[{db}] queries of a re-evaluation: {large_queries} at this size, {small_again} at 5 of everything "
            f"(a first evaluation at 5: {small_first})"
        )
        print(f"[{db}] baseline COUNT(*) over the assets: {baseline * 1000:.2f} ms")
        base = ("COUNT(*) over the assets", baseline)
        size = f"{sizes.assets:,} assets, {sizes.staff} staff, {sizes.devices:,} devices"
        report(f"compliance.evaluate_first ({size})", first, "s", goal=("<=", GOAL_S), baseline=base)
        report(f"compliance.evaluate ({size})", again, "s", goal=("<=", GOAL_S), baseline=base)
        report(
            f"compliance.queries ({size})",
            large_queries,
            "queries",
            goal=("==", small_again),
            baseline=("5 of everything", small_again),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
