"""Every acknowledged case (201) survives kill -9 of a real server mid-load, exactly once (SQLite and PostGIS).

Clients submit with an idempotency key each; the server is killed while they run; after a restart the
clients retry what was not acknowledged, with the same keys. Then every submission must be in the
store exactly once, and every acknowledged one under the id it was acknowledged with.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import pytest

from gridgis.cases import CaseFilter, open_case_store
from gridgis.store import open_store
from tests.cases.conftest import APP, IN_G1, KEYS, load_toy
from tests.cases.server import Server

CLIENTS = 8


def _submit(client: httpx.Client, base: str, name: str) -> httpx.Response:
    body = {"category": "other", "description": name, "lon": IN_G1[0], "lat": IN_G1[1], "channel": "patrol"}
    return client.post(f"{base}/v1/cases", json=body, headers={"X-API-Key": APP, "Idempotency-Key": name}, timeout=10)


def _client_loop(base: str, who: int, acked: dict, pending: list, stop: threading.Event) -> None:
    with httpx.Client() as client:
        n = 0
        while not stop.is_set():
            name = f"c{who}-{n}"
            try:
                r = _submit(client, base, name)
            except httpx.TransportError:
                pending.append(name)  # sent, no answer: it may or may not have been stored
                return
            if r.status_code != 201:
                pending.append(name)
                return
            acked[name] = r.json()["id"]
            n += 1


@pytest.mark.slow
def test_acknowledged_cases_survive_kill_9(store_url, toy_city, toy_plan, tmp_path):
    store = open_store(store_url)
    load_toy(store, toy_city, toy_plan)
    store.close()
    server = Server(store_url, KEYS, tmp_path / "serve.log")
    server.start()
    acked: dict[str, int] = {}
    pending: list[str] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=_client_loop, args=(server.base, i, acked, pending, stop)) for i in range(CLIENTS)
    ]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acked) < 200 and time.monotonic() < deadline:  # mid-run: clients are busy
            time.sleep(0.02)
        server.kill()
        stop.set()
        for t in threads:
            t.join(15)
        assert len(acked) >= 200, f"only {len(acked)} cases acknowledged before the kill"
        server.start()
        with httpx.Client() as client:
            retried = {name: _submit(client, server.base, name) for name in pending}
    finally:
        stop.set()
        server.kill()
    assert all(r.status_code == 201 for r in retried.values()), {k: r.text for k, r in retried.items()}

    cases = open_case_store(store_url)
    try:
        stored = list(cases.iter_cases(CaseFilter()))
    finally:
        cases.close()
        cases.store.close()
    names = Counter(c["description"] for c in stored)
    assert [n for n, k in names.items() if k > 1] == [], "duplicated submissions"
    by_name = {c["description"]: c["id"] for c in stored}
    lost = [n for n in acked if n not in by_name]
    assert lost == [], f"{len(lost)} acknowledged case(s) lost"
    assert all(by_name[n] == i for n, i in acked.items()), "an acknowledged case changed id"
    assert set(by_name) == set(acked) | set(pending)
    for name, r in retried.items():
        assert r.json()["id"] == by_name[name]
