"""The case store without HTTP, on SQLite and PostGIS: concurrent writers, group commit, races."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from gridgis.cases import check_report, open_case_store, submit
from gridgis.cases.desk import submit_async
from gridgis.cases.lifecycle import Actor
from gridgis.errors import ConflictError
from gridgis.store import open_store
from gridgis.store.base import hash_key
from gridgis.store.snapshot import load_snapshot
from tests.cases.conftest import IN_G1, T0, load_toy


@pytest.fixture
def desk(store_url, toy_city, toy_plan):
    store = open_store(store_url)
    load_toy(store, toy_city, toy_plan)
    cases = open_case_store(store)
    yield cases, load_snapshot(store)
    cases.close()
    store.close()


def report(text: str, category: str = "other"):
    return check_report(category=category, description=text, lon=IN_G1[0], lat=IN_G1[1])


def test_concurrent_submissions_each_stored_once_and_a_bad_one_fails_alone(desk):
    cases, snap = desk
    first, _ = submit(cases, snap, report("original"), client="app", idempotency_key="k-dup")

    def one(i: int):
        if i % 10 == 0:  # reuses a key with another report: must fail without harming the others
            return submit(cases, snap, report(f"other {i}"), client="app", idempotency_key="k-dup")
        if i % 10 == 1:  # a retry of the first: must return it
            return submit(cases, snap, report("original"), client="app", idempotency_key="k-dup")
        return submit(cases, snap, report(f"r{i}"), client="app", idempotency_key=f"k{i}")

    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(one, i) for i in range(200)]
    outcomes = []
    for i, f in enumerate(futures):
        if i % 10 == 0:
            with pytest.raises(ConflictError, match="k-dup"):
                f.result()
        else:
            outcomes.append((i, *f.result()))
    assert all(case["id"] == first["id"] and replayed for i, case, replayed in outcomes if i % 10 == 1)
    fresh = [case for i, case, replayed in outcomes if i % 10 > 1]
    assert all(not r for i, c, r in outcomes if i % 10 > 1)
    assert len({c["id"] for c in fresh}) == len(fresh) == 160
    rows, total = cases.list(limit=1000)
    assert total == 161 and sorted(c["description"] for c in rows if c["description"] != "original") == sorted(
        c["description"] for c in fresh
    )
    assert len(cases.events(first["id"])) == 2


def test_concurrent_async_submissions_each_answered_after_their_commit(desk):
    """Many submissions awaited in one event loop (the service's way): each gets its own answer, a bad one
    fails alone, and every answered case is already committed (read back on another connection)."""
    cases, snap = desk
    first, _ = submit(cases, snap, report("original"), client="app", idempotency_key="k-dup")
    committed: list[bool] = []

    async def one(i: int):
        text, key = (f"other {i}", "k-dup") if i % 10 == 0 else (f"r{i}", f"k{i}")
        case, replayed = await submit_async(cases, snap, report(text), client="app", idempotency_key=key)
        fresh = open_store(cases.store.url)  # a connection of its own: sees only committed rows
        try:
            committed.append(open_case_store(fresh).get(case["id"])["description"] == text)
        finally:
            fresh.close()
        return case, replayed

    async def run():
        return await asyncio.gather(*(one(i) for i in range(120)), return_exceptions=True)

    outcomes = asyncio.run(run())
    for i, outcome in enumerate(outcomes):
        if i % 10 == 0:
            assert isinstance(outcome, ConflictError) and "k-dup" in str(outcome)
        else:
            assert not isinstance(outcome, BaseException) and outcome[0]["description"] == f"r{i}"
    assert len(committed) == 108 and all(committed)
    assert len({o[0]["id"] for o in outcomes if not isinstance(o, BaseException)}) == 108
    assert cases.list(limit=1000)[1] == 109


def test_a_new_case_is_answered_as_it_is_stored(desk):
    """create() answers from INSERT ... RETURNING: the same case a later read gives, and its replay."""
    cases, snap = desk
    r = check_report(category="fire", description="出口堵塞", lon=IN_G1[0], lat=IN_G1[1], contact={"name": "李"})
    case, replayed = submit(cases, snap, r, client="app", idempotency_key="k-ret", now=T0)
    assert not replayed and case == cases.get(case["id"])
    assert case["created_at"] == T0 and case["contact"] == {"name": "李"} and case["outside_coverage"] is False
    again, replayed = submit(cases, snap, r, client="app", idempotency_key="k-ret", now=T0 + timedelta(seconds=1))
    assert replayed and again == case


def test_racing_transitions_move_a_case_once(desk):
    cases, snap = desk
    case, _ = submit(cases, snap, report("race"), client="app")

    def move(i: int):
        try:
            cases.transition(case["id"], "accepted", actor=Actor(f"w{i}", frozenset({"handler"}), f"w{i}"))
            return "ok"
        except ConflictError:
            return "conflict"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(move, range(8)))
    assert results.count("ok") == 1 and results.count("conflict") == 7
    assert [e["to_status"] for e in cases.events(case["id"])] == ["reported", "assigned", "accepted"]


def test_racing_escalators_escalate_each_case_once(desk):
    cases, snap = desk
    ids = [submit(cases, snap, report(f"e{i}", "fire"), client="app", now=T0)[0]["id"] for i in range(20)]
    later = T0 + timedelta(hours=13)
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: cases.escalate_overdue(later), range(4)))
    assert sorted(i for run in runs for i in run) == ids
    for cid in ids:
        escalations = [e for e in cases.events(cid) if e["to_status"] == "escalated"]
        assert len(escalations) == 1 and escalations[0]["assignee"] == "community:440784101001"


def test_case_tables_live_in_the_service_database(store_url, toy_city, toy_plan):
    store = open_store(store_url)
    load_toy(store, toy_city, toy_plan)
    cases = open_case_store(store)
    case, _ = submit(cases, load_snapshot(store), report("persisted"), client="app")
    cases.close()
    store.close()
    again = open_case_store(store_url)  # reopening migrates nothing twice and finds the case
    try:
        assert again.get(case["id"])["description"] == "persisted"
        # step 1: the tables; 2: scopes moved to worker keys; 3: the submitting key's id
        assert (again.store.schema_version("cases"), again.store.schema_version("people")) == (4, 2)
    finally:
        again.close()
        again.store.close()


def test_an_old_database_upgrades_its_scoped_reader_keys_to_worker_keys(store_url, monkeypatch):
    """A database from before worker keys (core and cases at step 1, grid scopes in case_scopes) upgrades in place."""
    import gridgis.cases.store as case_tables
    import gridgis.store.postgis as pg_tables
    import gridgis.store.sqlite as sqlite_tables

    # build the old schema by running only the first step of each migration list
    monkeypatch.setattr(sqlite_tables, "MIGRATIONS", sqlite_tables.MIGRATIONS[:1])
    monkeypatch.setattr(pg_tables, "MIGRATIONS", pg_tables.MIGRATIONS[:1])
    monkeypatch.setattr(case_tables, "SQLITE_MIGRATIONS", case_tables.SQLITE_MIGRATIONS[:1])
    monkeypatch.setattr(case_tables, "POSTGIS_MIGRATIONS", case_tables.POSTGIS_MIGRATIONS[:1])
    old = open_store(store_url)
    open_case_store(old).close()
    tokens = {}
    with old.connect() as con:
        cur = con.cursor()
        for name, role in (("scoped", "reader"), ("app", "reader"), ("boss", "dispatcher")):
            tokens[name] = f"ggk_{name}_0123456789"
            cur.execute(
                old._q("INSERT INTO api_keys (key_hash, prefix, name, role, created_at) VALUES (?, ?, ?, ?, ?)"),
                (hash_key(tokens[name]), tokens[name][:10], name, role, "2026-01-01T00:00:00+00:00"),
            )
        for grid in ("440784101001002", "440784101001001"):
            cur.execute(old._q("INSERT INTO case_scopes (key_prefix, grid_id) VALUES (?, ?)"), ("ggk_scoped", grid))
    assert (old.schema_version("core"), old.schema_version("cases")) == (1, 1)
    old.close()
    monkeypatch.undo()

    store = open_store(store_url)
    cases = open_case_store(store)
    try:
        assert (store.schema_version("core"), store.schema_version("cases")) == (2, 4)
        scoped = store.lookup_key(tokens["scoped"])
        assert (scoped["role"], sorted(scoped["grids"])) == ("worker", ["440784101001001", "440784101001002"])
        assert store.lookup_key(tokens["app"])["role"] == "reader" and store.lookup_key(tokens["app"])["grids"] == ()
        assert store.lookup_key(tokens["boss"])["role"] == "dispatcher"
        with store.connect(readonly=True) as con, pytest.raises(Exception, match="case_scopes"):
            con.cursor().execute("SELECT * FROM case_scopes")
    finally:
        cases.close()
        store.close()
