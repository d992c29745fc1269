"""Benchmark of the tamper-evident audit log (issue 4), run by `make bench` once on SQLite and once on
PostgreSQL (DATABASE_URL). It never touches a real database: it creates its own throwaway one and drops it.

Figures, each with a baseline measured in the same run:
  1. verifying an export of ~1M events (goal ≤ 2 s)             vs hashing the same lines with hashlib
  2. an inclusion proof from the stored state at ~1M events (≤ 20 ms) vs one SHA-256 of the leaf, and vs one
                                                                   indexed SELECT of the event row
  3. the extra time an audited service call pays (≤ 2 ms p50)    vs the same call with record() patched out

The 1M events are written straight into the throwaway database with bulk SQL (COPY on PostgreSQL), together
with the Merkle state that `record` would have kept; proofs and the export then read them like any log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sekisho.settings")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import report  # noqa: E402

EVENTS = int(os.environ.get("SEKISHO_BENCH_AUDIT_EVENTS", "1000000"))
PROOF_SAMPLES = 300
CALL_SAMPLES = 300
GOALS = {"verify_s": 2.0, "proof_ms": 20.0, "extra_ms": 2.0}
EVENT_COLUMNS = (
    "stream_id",
    "index",
    "contract_id",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "summary",
    "occurred_at",
    "request_id",
    "prev_hash",
    "hash",
)


def p50(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.95) - 1]


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def verdict(value: float, goal: float) -> str:
    return "goal met" if value <= goal else "GOAL MISSED"


class Throwaway:
    """A fresh database of the configured vendor, under a name no test run or deployment uses."""

    def __init__(self, tmp: Path) -> None:
        test = connection.settings_dict.setdefault("TEST", {})
        if connection.vendor == "sqlite":
            test["NAME"] = str(tmp / "bench_audit.sqlite3")
        else:
            test["NAME"] = f"sekisho_bench_audit_{os.getpid()}"
        self.old_name = connection.settings_dict["NAME"]

    def __enter__(self) -> Throwaway:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False, keepdb=False)
        return self

    def __exit__(self, *exc: object) -> None:
        connection.creation.destroy_test_db(self.old_name, verbosity=0, keepdb=False)


def make_world() -> dict[str, Any]:
    from sekisho.core import services
    from sekisho.core.models import Organisation, Role, User

    admin = services.system_account()
    orderer_org = services.create_organisation(
        acting_user=admin, name="倉敷市", kind=Organisation.Kind.ORDERER
    )
    contractor = services.create_organisation(
        acting_user=admin, name="株式会社ベンチ", kind=Organisation.Kind.CONTRACTOR
    )
    contract = services.create_contract(
        acting_user=admin,
        number="B-1",
        title="ベンチマーク業務",
        orderer=orderer_org,
        contractor=contractor,
        period_start=dt.date(2026, 4, 1),
        period_end=dt.date(2027, 3, 31),
    )
    orderer = User.objects.create(username="orderer", organisation=orderer_org)
    manager = User.objects.create(username="manager", organisation=contractor)
    services.appoint_lead(contract, acting_user=admin, user=orderer, role=Role.ORDERER)
    services.appoint_lead(contract, acting_user=admin, user=manager, role=Role.MANAGER)
    return {"contract": contract, "orderer": orderer, "manager": manager, "contractor": contractor}


def bulk_load(contract: Any, actor: Any, target: int) -> float:
    """Append events until the contract's log has *target* events, with the Merkle state `record` keeps."""
    from sekisho.audit import merkle
    from sekisho.audit.canonical import canonical_json
    from sekisho.audit.models import STORED_MIN_LEVEL, AuditStream, canonical_of, stream_key_for

    start = time.perf_counter()
    stream = AuditStream.objects.get(key=stream_key_for(contract.pk))
    frontier = merkle.unpack_frontier(stream.frontier, stream.size)
    size, prev = stream.size, stream.head_hash
    base = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    events: list[tuple[Any, ...]] = []
    nodes: list[tuple[Any, ...]] = []
    sha = hashlib.sha256
    while size < target:
        index = size
        summary = {"asset": f"A-{index:07d}", "note": "図面の閲覧（保管庫）", "pages": index % 40}
        occurred = base + dt.timedelta(microseconds=index * 1000)
        body = canonical_json(
            canonical_of(
                index,
                contract.pk,
                actor.pk,
                "manager",
                "vault.view",
                "ledger.asset",
                str(index),
                summary,
                occurred,
                "",
                prev,
            )
        )
        digest = sha(body).hexdigest()
        size, completed = merkle.append_subtree(frontier, size, 0, sha(b"\x00" + body).digest())
        nodes += [(stream.pk, lv, ix, h) for lv, ix, h in completed if lv >= STORED_MIN_LEVEL]
        events.append(
            (stream.pk, index, contract.pk, actor.pk, "manager", "vault.view", "ledger.asset", str(index),
             json.dumps(summary), occurred, "", prev, digest)
        )  # fmt: skip
        prev = digest
    quote = connection.ops.quote_name
    event_columns = ", ".join(quote(c) for c in EVENT_COLUMNS)
    node_columns = ", ".join(quote(c) for c in ("stream_id", "level", "index", "hash"))
    with transaction.atomic():
        raw = connection.connection
        if connection.vendor == "postgresql":
            with raw.cursor() as cur:
                with cur.copy(f"COPY audit_auditevent ({event_columns}) FROM STDIN") as copy:
                    for row in events:
                        copy.write_row(row)
                with cur.copy(f"COPY audit_merklenode ({node_columns}) FROM STDIN") as copy:
                    for row in nodes:
                        copy.write_row(row)
        else:
            adapt = connection.ops.adapt_datetimefield_value
            raw.executemany(
                f"INSERT INTO audit_auditevent ({event_columns}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})",  # noqa: S608
                ((*row[:9], adapt(row[9]), *row[10:]) for row in events),
            )
            raw.executemany(f"INSERT INTO audit_merklenode ({node_columns}) VALUES (?, ?, ?, ?)", nodes)  # noqa: S608
        AuditStream.objects.filter(pk=stream.pk).update(
            size=size, head_hash=prev, frontier=merkle.pack_frontier(frontier)
        )
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return time.perf_counter() - start


def bench_proofs(stream: Any, size: int) -> dict[str, float]:
    from sekisho.audit import merkle, proofs
    from sekisho.audit.models import AuditEvent

    rng = random.Random(4)  # noqa: S311
    indexes = [rng.randrange(size) for _ in range(PROOF_SAMPLES)]
    root = proofs.current_root(stream)
    proofs.inclusion(stream, indexes[0], size)  # warm caches and connections
    times = []
    for index in indexes:
        start = time.perf_counter()
        proof = proofs.inclusion(stream, index, size)
        times.append(time.perf_counter() - start)
        merkle.verify_inclusion(index, size, proof.leaf_hash, proof.proof, root)  # correct, not only fast
    leaf = proof.event
    loops = 200_000
    start = time.perf_counter()
    for _ in range(loops):
        hashlib.sha256(b"\x00" + leaf).digest()
    sha_s = (time.perf_counter() - start) / loops
    select = []
    for index in indexes:
        start = time.perf_counter()
        AuditEvent.objects.filter(stream=stream, index=index).values_list("hash").get()
        select.append(time.perf_counter() - start)
    return {"p50": p50(times), "p95": p95(times), "sha": sha_s, "select": p50(select)}


def bench_export_and_verify(world: dict[str, Any], tmp: Path) -> dict[str, float]:
    from sekisho.audit import export, keys, services
    from sekisho.audit.verify import verify_export

    path = tmp / "export.jsonl"
    start = time.perf_counter()
    result = services.export_contract(world["contract"], acting_user=world["orderer"])
    with path.open("wb") as fh:
        fh.writelines(export.export_lines(result))
    export_s = time.perf_counter() - start
    public_key = keys.public_key()
    runs, cpu = [], []
    for _ in range(3):
        start, start_cpu = time.perf_counter(), time.process_time()
        report = verify_export(path, public_key=public_key)
        runs.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        if not report.ok:
            raise SystemExit(f"the export of the benchmark does not verify: {report.problems}")

    def hash_lines() -> None:
        with path.open("rb") as fh:
            fh.readline()
            for line in fh:
                hashlib.sha256(line).digest()

    baseline = min(timed(hash_lines) for _ in range(3))
    start_cpu = time.process_time()
    hash_lines()
    baseline_cpu = time.process_time() - start_cpu
    return {
        "events": result.tree_head.size,
        "export_s": export_s,
        "verify_s": p50(runs),
        "verify_cpu": p50(cpu),
        "hash_s": baseline,
        "hash_cpu": baseline_cpu,
        "mb": path.stat().st_size / 1e6,
    }


def bench_service_call(world: dict[str, Any]) -> dict[str, float]:
    """membership.add on the ~1M-event contract: each call is its own transaction, as in production."""
    import sekisho.core.services as core_services
    from sekisho.core.models import Role, User

    contract, manager, org = world["contract"], world["manager"], world["contractor"]
    users = User.objects.bulk_create(
        [User(username=f"bench{i:04d}", organisation=org) for i in range(2 * CALL_SAMPLES + 20)]
    )
    real_record = core_services.record

    def call(user: Any) -> float:
        start = time.perf_counter()
        core_services.add_member(contract, acting_user=manager, user=user, role=Role.STAFF)
        return time.perf_counter() - start

    for user in users[:20]:  # warm-up
        call(user)
    audited, plain = [], []
    pool = iter(users[20:])
    for _ in range(CALL_SAMPLES):  # interleaved, so drift hits both alike
        audited.append(call(next(pool)))
        core_services.record = lambda **kwargs: None  # type: ignore[assignment]
        try:
            plain.append(call(next(pool)))
        finally:
            core_services.record = real_record
    return {"audited": p50(audited), "plain": p50(plain), "audited95": p95(audited)}


def main() -> int:
    from sekisho.audit import selectors

    vendor = connection.vendor
    began = time.perf_counter()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="sekisho-bench-") as tmpdir, Throwaway(Path(tmpdir)):
        tmp = Path(tmpdir)
        world = make_world()
        load_s = bulk_load(world["contract"], world["manager"], EVENTS)
        stream = selectors.contract_stream(world["contract"])
        proof = bench_proofs(stream, stream.size)
        files = bench_export_and_verify(world, tmp)
        calls = bench_service_call(world)
        size = stream.size
    total = time.perf_counter() - began

    print(f"audit log benchmark on {vendor}: contract log of {size:,} events (bulk load {load_s:.1f} s)")
    print(
        f"  verify export of {files['events']:,} events ({files['mb']:.0f} MB): {files['verify_s']:.2f} s "
        f"[{verdict(files['verify_s'], GOALS['verify_s'])}: ≤ {GOALS['verify_s']} s] = "
        f"{files['verify_s'] / files['hash_s']:.1f}× hashing its lines with hashlib ({files['hash_s']:.2f} s); "
        f"CPU time {files['verify_cpu']:.2f} s vs {files['hash_cpu']:.2f} s (what load cannot inflate); "
        f"writing the export took {files['export_s']:.1f} s"
    )
    print(
        f"  inclusion proof at {size:,} events from the stored state: p50 {proof['p50'] * 1e3:.2f} ms, "
        f"p95 {proof['p95'] * 1e3:.2f} ms [{verdict(proof['p50'] * 1e3, GOALS['proof_ms'])}: ≤ {GOALS['proof_ms']} ms] "
        f"= {proof['p50'] / proof['sha']:,.0f}× one SHA-256 of the leaf ({proof['sha'] * 1e6:.2f} µs), "
        f"{proof['p50'] / proof['select']:.1f}× one indexed SELECT of the event ({proof['select'] * 1e3:.2f} ms)"
    )
    extra = calls["audited"] - calls["plain"]
    print(
        f"  audited service call (membership.add on that contract): p50 {calls['audited'] * 1e3:.2f} ms "
        f"(p95 {calls['audited95'] * 1e3:.2f}) vs {calls['plain'] * 1e3:.2f} ms with record() patched out: "
        f"extra {extra * 1e3:.2f} ms p50 [{verdict(extra * 1e3, GOALS['extra_ms'])}: ≤ {GOALS['extra_ms']} ms], "
        f"ratio {calls['audited'] / calls['plain']:.2f}×"
    )
    print(
        f"  (whole benchmark {total:.0f} s on {os.cpu_count()} CPUs; 1-min load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after — other work on the machine slows every figure)"
    )
    report(
        f"audit.verify_export ({files['events']:,} events)",
        files["verify_s"],
        "s",
        goal=("<=", GOALS["verify_s"]),
        baseline=("hashlib of the lines", files["hash_s"]),
    )
    report(
        f"audit.inclusion_proof.p50 ({size:,} events)",
        proof["p50"] * 1e3,
        "ms",
        goal=("<=", GOALS["proof_ms"]),
        baseline=("indexed SELECT", proof["select"] * 1e3),
    )
    report(
        "audit.extra_per_audited_call.p50",
        extra * 1e3,
        "ms",
        goal=("<=", GOALS["extra_ms"]),
        baseline=("call without record()", calls["plain"] * 1e3),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
