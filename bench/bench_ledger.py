"""Benchmark of the ledger at 100k assets (issue: ledger, part 4), run by `make bench` once on SQLite and once on
PostgreSQL (DATABASE_URL). It creates its own throwaway database and drops it; no real database is touched.

Figures, each with a baseline measured in the same run:
  1. the API's ledger page of 50 (goal p50 ≤ 50 ms): first, middle and last page, and filtered pages,
     through django.test.Client with a bearer token   vs the bare ORM fetch of the same 50 rows
  2. the page's query count at 1k and at 100k assets (must be equal; asserted in
     tests/api/test_ledger_api.py::test_ledger_page_costs_the_same_queries_for_5_or_60_assets)
  3. exporting 100k rows as .xlsx (goal ≤ 20 s, peak RSS ≤ 300 MiB)   vs iterating the same rows bare
  4. importing those 100k rows from the exported file into another contract (goal ≤ 60 s, ≤ 300 MiB)

Export and import each run in a child process of their own, so that "peak RSS" is the peak of a process that
did only that (Python, Django and the connection included), and "growth" is what the work added on top.

Usage: python bench/bench_ledger.py [--assets N]   (SEKISHO_BENCH_LEDGER_ASSETS also sets N)
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.people.clearing: the one way members are cleared for information
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sekisho.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import report  # noqa: E402

ASSETS = int(os.environ.get("SEKISHO_BENCH_LEDGER_ASSETS", "100000"))
SMALL = 1000
PAGE_SAMPLES = 10  # per page variant; six variants → 60 requests
GOALS = {"page_p50_ms": 50.0, "export_s": 20.0, "import_s": 60.0, "rss_mib": 300.0}
PERIOD = (dt.date(2026, 6, 1), dt.date(2027, 3, 19))


def p50(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(len(ordered) * 0.95) - 1)]


def verdict(value: float, goal: float) -> str:
    return "goal met" if value <= goal else "GOAL MISSED"


def _status_mib(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mib() -> float:
    """This process's peak RSS. VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the parent
    across fork and exec, so a child started by a big parent would report the parent's peak."""
    return _status_mib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    return _status_mib("VmRSS")


# --- the throwaway database and its fixture ----------------------------------------------------------------


class Throwaway:
    """A fresh database of the configured vendor, under a name no test run or deployment uses."""

    def __init__(self, tmp: Path) -> None:
        test = connection.settings_dict.setdefault("TEST", {})
        if connection.vendor == "sqlite":
            test["NAME"] = str(tmp / "bench_ledger.sqlite3")
        else:
            test["NAME"] = f"sekisho_bench_ledger_{os.getpid()}"
        self.old_name = connection.settings_dict["NAME"]

    def __enter__(self) -> str:
        return str(
            connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False, keepdb=False)
        )

    def __exit__(self, *exc: object) -> None:
        connection.creation.destroy_test_db(self.old_name, verbosity=0, keepdb=False)


def make_people() -> dict[str, Any]:
    from sekisho.core import services
    from sekisho.core.models import Organisation

    admin = services.system_account()
    orderer_org = services.create_organisation(
        acting_user=admin, name="倉敷市", kind=Organisation.Kind.ORDERER
    )
    contractor = services.create_organisation(
        acting_user=admin, name="株式会社ベンチ", kind=Organisation.Kind.CONTRACTOR
    )
    people = {"admin": admin, "orderer_org": orderer_org, "contractor": contractor}
    for username, name, org in (
        ("orderer", "発注 花子", orderer_org),
        ("manager", "情報 管理者", contractor),
        ("staff", "社員 一郎", contractor),
    ):
        people[username] = services.create_user(
            acting_user=admin,
            username=username,
            password="bench-password-correct-horse-42",
            display_name=name,
            organisation=org,
        )
    return people


def make_contract(people: dict[str, Any], number: str) -> Any:
    """A contract with its orderer, information manager and one staff member, all cleared for information."""
    from sekisho.core import services
    from sekisho.core.models import Role

    admin = people["admin"]
    contract = services.create_contract(
        acting_user=admin,
        number=number,
        title=f"ベンチマーク業務 {number}",
        orderer=people["orderer_org"],
        contractor=people["contractor"],
        period_start=PERIOD[0],
        period_end=PERIOD[1],
    )
    services.appoint_lead(contract, acting_user=admin, user=people["orderer"], role=Role.ORDERER)
    services.appoint_lead(contract, acting_user=admin, user=people["manager"], role=Role.MANAGER)
    services.add_member(contract, acting_user=people["manager"], user=people["staff"], role=Role.STAFF)
    try:
        from tests.people.clearing import clear_contract
    except ImportError:  # before the people gates existed nobody needed clearing
        return contract
    clear_contract(contract, people["manager"], [people["staff"]])
    return contract


def bulk_assets(contract: Any, people: dict[str, Any], count: int) -> float:
    """*count* assets straight into the table. Fixture set-up only: bulk_create skips the per-row checks of
    ``register_asset`` (which the importer keeps), because the benchmark measures reading, export and import,
    not 100k single registrations. The mix: 85% originals (some paper, some personal information, some
    important), 10% derivatives of originals, 5% copies of derivatives — so the export has in-file lineage
    and the re-import needs no copy permit."""
    from sekisho.ledger.models import Asset, LocationKind, Medium, Origin

    start = time.perf_counter()
    staff, manager = people["staff"], people["manager"]
    originals = count * 85 // 100
    derived = count // 10
    copies = count - originals - derived
    days = (PERIOD[1] - PERIOD[0]).days
    ref = 0

    def asset(n: int, **fields: Any) -> Asset:
        nonlocal ref
        ref += 1
        paper = fields.get("medium") == Medium.PAPER
        values: dict[str, Any] = {
            "contract": contract,
            "ref": f"A-{ref:06d}",
            "title": f"管渠調査票 No.{n}",
            "description": "下水道管渠の調査記録（現地調査票・写真台帳を含む）" if n % 3 == 0 else "",
            "medium": Medium.ELECTRONIC,
            "origin": Origin.PROVIDED,
            "received_on": PERIOD[0] + dt.timedelta(days=n % days),
            "custodian": staff if n % 2 else manager,
            "location_kind": LocationKind.CABINET if paper else LocationKind.VAULT,
            "location": f"書庫{n % 12 + 1}-{n % 7 + 1}" if paper else "",
            "quantity": n % 5 + 1 if paper else None,
            "important": n % 5 == 0,
            "confidentiality": n % 3 + 1,
            "integrity": n % 2 + 1,
            "availability": (n // 2) % 2 + 1,
            "created_by": manager,
        }
        values.update(fields)
        return Asset(**values)

    def personal(n: int) -> dict[str, Any]:
        if n % 10:
            return {}
        return {
            "has_personal_info": True,
            "personal_categories": ["address", "name"] + (["sensitive"] if n % 30 == 0 else []),
            "personal_sensitive": n % 30 == 0,
            "personal_count": 100 + n % 900,
            "personal_purpose": "排水設備調査の立会い依頼",
            "personal_necessity": "対象世帯への連絡のため",
        }

    made: list[Any] = []
    for first in range(0, originals, 5000):
        batch = [
            asset(n, medium=Medium.PAPER if n % 4 == 0 and n % 10 else Medium.ELECTRONIC, **personal(n))
            for n in range(first, min(first + 5000, originals))
        ]
        made += [(a.pk, a.received_on) for a in Asset.objects.bulk_create(batch)]
    derived_made: list[Any] = []
    for first in range(0, derived, 5000):
        batch = []
        for n in range(first, min(first + 5000, derived)):
            parent_pk, received = made[(n * 7) % len(made)]
            batch.append(
                asset(
                    originals + n,
                    title=f"調査報告書 第{n}章",
                    origin=Origin.DERIVED,
                    parent_id=parent_pk,
                    root_id=parent_pk,
                    received_on=max(received, PERIOD[0] + dt.timedelta(days=(originals + n) % days)),
                )
            )
        derived_made += [(a.pk, a.root_id, a.received_on) for a in Asset.objects.bulk_create(batch)]
    for first in range(0, copies, 5000):
        batch = []
        for n in range(first, min(first + 5000, copies)):
            parent_pk, root_pk, received = derived_made[(n * 3) % len(derived_made)]
            batch.append(
                asset(
                    originals + derived + n,
                    title=f"調査報告書 写し{n}",
                    origin=Origin.COPY,
                    parent_id=parent_pk,
                    root_id=root_pk,
                    received_on=received,
                    location_kind=LocationKind.DEVICE if n % 5 else LocationKind.VAULT,
                    location=f"PC-{n % 40:03d}",
                    important=False,
                )
            )
        Asset.objects.bulk_create(batch)
    return time.perf_counter() - start


# --- 1 and 2: the ledger page ------------------------------------------------------------------------------


def page_figures(contract: Any, small: Any, people: dict[str, Any]) -> dict[str, Any]:
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from sekisho.core.auth import issue_api_token
    from sekisho.ledger.models import Asset

    _token, text = issue_api_token(people["staff"], acting_user=people["staff"], name="bench")
    client = Client(headers={"Authorization": f"Bearer {text}"})
    total = Asset.objects.filter(contract=contract).count()

    def middle(**lookup: Any) -> int:
        return max(0, Asset.objects.filter(contract=contract, **lookup).count() // 2 - 25)

    variants = {
        "first page": ("", 0, {}),
        "middle page": ("", total // 2, {}),
        "last page": ("", total - 50, {}),
        "important, first": ("&important=true", 0, {"important": True}),
        "personal, middle": ("&personal=true", middle(has_personal_info=True), {"has_personal_info": True}),
        "paper+conf.3, middle": (
            "&medium=paper&confidentiality=3",
            middle(medium="paper", confidentiality=3),
            {"medium": "paper", "confidentiality": 3},
        ),
    }
    rows: list[dict[str, Any]] = []
    everything: list[float] = []
    for label, (query, offset, lookup) in variants.items():
        url = f"/api/v1/contracts/{contract.pk}/assets?limit=50&offset={offset}{query}"
        response = client.get(url)  # warm-up (and the token's last-used stamp)
        assert response.status_code == 200, response.content[:500]
        assert len(response.json()["items"]) == 50, label
        api, cpu, bare = [], [], []
        for _ in range(PAGE_SAMPLES):
            start, start_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            api.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
            assert response.status_code == 200
            start = time.perf_counter()
            list(Asset.objects.filter(contract=contract, **lookup).order_by("id")[offset : offset + 50])
            bare.append((time.perf_counter() - start) * 1000)
        everything += api
        rows.append({"label": label, "p50": p50(api), "p95": p95(api), "cpu": p50(cpu), "bare": p50(bare)})

    def queries(c: Any) -> int:
        url = f"/api/v1/contracts/{c.pk}/assets?limit=50"
        client.get(url)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    return {
        "rows": rows,
        "p50": p50(everything),
        "p95": p95(everything),
        "queries_small": queries(small),
        "queries_large": queries(contract),
        "samples": len(everything),
    }


# --- 3 and 4: export and import, each in its own process ---------------------------------------------------


def child(phase: str, db_name: str, **args: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", phase, "--db-name", db_name]
    for key, value in args.items():
        command += [f"--{key}", value]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - ourselves
    if done.returncode != 0:
        raise RuntimeError(f"{phase} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_child(options: argparse.Namespace) -> None:
    """In a child process: connect to the throwaway database, do one phase, print its figures as JSON."""
    from sekisho.core.models import Contract, User

    connection.settings_dict["NAME"] = options.db_name
    manager = User.objects.get(username="manager")
    contract = Contract.objects.get(number=options.contract)
    connection.close()  # the phase opens its own connection, as a request would
    rss_before, peak_before = current_rss_mib(), peak_rss_mib()
    cpu_before = time.process_time()
    figures: dict[str, Any] = {}
    if options.child == "export":
        from sekisho.ledger.xlsx_export import export_ledger

        start = time.perf_counter()
        with open(options.file, "wb") as out:
            figures["rows"] = export_ledger(contract, acting_user=manager, out=out)
        figures["seconds"] = time.perf_counter() - start
        figures["bytes"] = os.path.getsize(options.file)
    elif options.child == "bare":
        from sekisho.ledger.selectors import ledger

        start = time.perf_counter()
        figures["rows"] = sum(1 for _ in ledger(manager, contract).iterator(chunk_size=2000))
        figures["seconds"] = time.perf_counter() - start
    else:
        from sekisho.ledger.importer import import_assets

        with open(options.file, "rb") as fh:
            data = fh.read()
        start = time.perf_counter()
        result = import_assets(contract, acting_user=manager, filename="ledger.xlsx", stream=io.BytesIO(data))
        figures["seconds"] = time.perf_counter() - start
        figures["rows"] = result.count
        figures["phases"] = result.seconds
    figures["cpu_seconds"] = time.process_time() - cpu_before
    figures["rss_start_mib"] = rss_before
    figures["peak_rss_mib"] = peak_rss_mib()
    figures["growth_mib"] = peak_rss_mib() - max(rss_before, 0.0)
    figures["peak_before_mib"] = peak_before
    print(json.dumps(figures))


# --- the report --------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assets", type=int, default=ASSETS)
    parser.add_argument("--child", choices=["export", "import", "bare"])
    parser.add_argument("--db-name")
    parser.add_argument("--contract")
    parser.add_argument("--file")
    options = parser.parse_args()
    if options.child:
        run_child(options)
        return 0

    from django.test.utils import setup_test_environment

    from sekisho.ledger.models import Asset

    setup_test_environment()  # the test client's host name is allowed
    vendor = connection.vendor
    with tempfile.TemporaryDirectory(prefix="sekisho-bench-ledger-") as tmp_dir:
        tmp = Path(tmp_dir)
        with Throwaway(tmp) as db_name:
            people = make_people()
            large, small, target = (make_contract(people, n) for n in ("L-100K", "L-1K", "L-IMPORT"))
            load_s = bulk_assets(large, people, options.assets)
            bulk_assets(small, people, SMALL)
            with connection.cursor() as cursor:  # the statistics autovacuum / a running site would have
                cursor.execute("ANALYZE")
            pages = page_figures(large, small, people)
            file = str(tmp / "ledger.xlsx")
            bare = child("bare", db_name, contract=large.number)
            export = child("export", db_name, contract=large.number, file=file)
            imported = child("import", db_name, contract=target.number, file=file)
            assert imported["rows"] == options.assets == Asset.objects.filter(contract=target).count()
    print_figures(vendor, options.assets, load_s, pages, bare, export, imported)
    report_figures(options.assets, pages, bare, export, imported)
    return 0


def report_figures(
    assets: int, pages: dict[str, Any], bare: dict[str, Any], export: dict[str, Any], imported: dict[str, Any]
) -> None:
    """The BENCH lines of `make bench`'s table."""
    report(
        "ledger.api_page_of_50.p50",
        pages["p50"],
        "ms",
        goal=("<=", GOALS["page_p50_ms"]),
        baseline=("bare ORM fetch", p50([row["bare"] for row in pages["rows"]])),
    )
    report("ledger.api_page_of_50.p95", pages["p95"], "ms")
    report(
        f"ledger.queries_per_page ({assets:,} assets)",
        pages["queries_large"],
        "count",
        baseline=(f"at {SMALL:,} assets", pages["queries_small"]),
    )
    report(
        "ledger.queries_per_page.growth",
        pages["queries_large"] - pages["queries_small"],
        "count",
        goal=("==", 0),
    )
    for name, fig, goal in (
        ("ledger.export_xlsx", export, GOALS["export_s"]),
        ("ledger.import_xlsx", imported, GOALS["import_s"]),
    ):
        report(
            f"{name} ({fig['rows']:,} rows)",
            fig["seconds"],
            "s",
            goal=("<=", goal),
            baseline=("bare iteration", bare["seconds"]),
        )
        report(f"{name}.peak_rss", fig["peak_rss_mib"], "MiB", goal=("<=", GOALS["rss_mib"]))


def print_figures(
    vendor: str,
    assets: int,
    load_s: float,
    pages: dict[str, Any],
    bare: dict[str, Any],
    export: dict[str, Any],
    imported: dict[str, Any],
) -> None:
    print(f"ledger benchmark on {vendor}: {assets:,} assets (fixture bulk-loaded in {load_s:.1f} s)")
    print()
    print(
        f"1. API ledger page of 50 (p50 goal ≤ {GOALS['page_p50_ms']:.0f} ms), {PAGE_SAMPLES} requests each"
    )
    print(f"   {'page':<22}{'p50 ms':>8}{'p95 ms':>8}{'CPU p50':>9}{'bare ORM ms':>13}{'ratio':>8}")
    for row in pages["rows"]:
        ratio = row["p50"] / row["bare"] if row["bare"] else float("nan")
        print(
            f"   {row['label']:<22}{row['p50']:>8.1f}{row['p95']:>8.1f}{row['cpu']:>9.1f}{row['bare']:>13.1f}"
            f"{ratio:>7.1f}x"
        )
    print("   (CPU p50: this process's CPU per request; on SQLite it includes the database's work)")
    print(
        f"   all {pages['samples']} requests: p50 {pages['p50']:.1f} ms, p95 {pages['p95']:.1f} ms — "
        f"{verdict(pages['p50'], GOALS['page_p50_ms'])}"
    )
    same = "equal" if pages["queries_small"] == pages["queries_large"] else "DIFFERENT"
    print(
        f"2. queries per page: {pages['queries_small']} at {SMALL:,} assets, {pages['queries_large']} at "
        f"{assets:,} — {same}"
    )
    print()
    print(f"   {'':<26}{'wall s':>8}{'CPU s':>8}{'rows/s':>9}{'peak RSS MiB':>14}{'growth MiB':>12}  verdict")
    for label, fig, goal in (
        ("bare iteration (baseline)", bare, None),
        ("3. export .xlsx", export, GOALS["export_s"]),
        ("4. import .xlsx", imported, GOALS["import_s"]),
    ):
        text = ""
        if goal is not None:
            ok = fig["seconds"] <= goal and fig["peak_rss_mib"] <= GOALS["rss_mib"]
            text = f"goal ≤ {goal:.0f} s, ≤ {GOALS['rss_mib']:.0f} MiB: {'goal met' if ok else 'GOAL MISSED'}"
        print(
            f"   {label:<26}{fig['seconds']:>8.2f}{fig['cpu_seconds']:>8.2f}{fig['rows'] / fig['seconds']:>9,.0f}"
            f"{fig['peak_rss_mib']:>14.0f}{fig['growth_mib']:>12.0f}  {text}"
        )
    phases = ", ".join(f"{name} {value:.1f} s" for name, value in imported.get("phases", {}).items())
    print(
        f"   export: {export['bytes'] / 1e6:.1f} MB file, {export['seconds'] / bare['seconds']:.1f}x the bare "
        f"iteration. import: {phases}."
    )
    print(
        f"   Each phase runs in a process of its own (RSS at its start: export {export['rss_start_mib']:.0f} MiB, "
        f"import {imported['rss_start_mib']:.0f} MiB); load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} CPUs — wall time on a shared machine is longer than CPU time."
    )


if __name__ == "__main__":
    sys.exit(main())
