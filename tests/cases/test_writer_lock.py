"""Several processes writing one SQLite file (``gridgis serve --workers 2``): their group-commit writers take
turns through the lock file beside the database, and every case lands once."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from gridgis.cases import CaseFilter, open_case_store
from gridgis.store import open_store
from tests.cases.conftest import load_toy

ROOT = Path(__file__).resolve().parents[2]

#: one process: open the store, submit CASES cases from THREADS threads, print how many it stored
SUBMITTER = """
import sys, threading
from gridgis.cases import check_report, open_case_store, submit
from gridgis.store import open_store
from gridgis.store.snapshot import load_snapshot

url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = open_store(url)
cases = open_case_store(store)
snap = load_snapshot(store)
ids = []

def run(t):
    for i in range(t, count, 4):
        text = f"{name}-{i}"
        r = check_report(category="other", description=text, lon=112.905, lat=22.705)
        ids.append(submit(cases, snap, r, client=name, idempotency_key=text)[0]["id"])

threads = [threading.Thread(target=run, args=(t,)) for t in range(4)]
sys.stdin.readline()  # both processes start writing when the test says so
for t in threads:
    t.start()
for t in threads:
    t.join()
cases.close()
store.close()
print(len(ids), len(set(ids)))
"""


def _holder(path: Path) -> int:
    """A descriptor of ``path`` of its own (an flock on it conflicts with every other open of the file)."""
    return os.open(path, os.O_RDWR | os.O_CREAT)


def test_the_writer_holds_the_lock_file_from_begin_to_commit(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'g.db'}")
    other = None
    try:
        seen = []

        def work(cur):
            nonlocal other
            other = _holder(store.writer_lock_path)
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                seen.append("held")
            else:
                seen.append("free")
            cur.execute("CREATE TABLE t (x INTEGER)")

        store.write(work)
        assert seen == ["held"]
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released once committed
        fcntl.flock(other, fcntl.LOCK_UN)
    finally:
        if other is not None:
            os.close(other)
        store.close()


def test_a_write_waits_while_another_process_holds_the_lock_and_commits_after(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'g.db'}")
    store.write(lambda cur: cur.execute("CREATE TABLE t (x INTEGER)"))
    other = _holder(store.writer_lock_path)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)  # as another process's writer would
        done = threading.Event()
        writer = threading.Thread(target=lambda: (store.write(lambda cur: cur.execute("INSERT INTO t VALUES (1)")),
                                                  done.set()))  # fmt: skip
        writer.start()
        assert not done.wait(0.5)  # waits for the lock: neither fails nor writes past it
        with store.connect(readonly=True) as con:
            assert con.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)
        fcntl.flock(other, fcntl.LOCK_UN)
        assert done.wait(10)
        writer.join()
        with store.connect(readonly=True) as con:
            assert con.execute("SELECT COUNT(*) FROM t").fetchone() == (1,)
    finally:
        os.close(other)
        store.close()


def test_two_processes_writing_at_once_land_every_case_once(tmp_path, toy_city, toy_plan):
    url = f"sqlite:///{tmp_path / 'g.db'}"
    store = open_store(url)
    load_toy(store, toy_city, toy_plan)
    open_case_store(store).close()
    store.close()
    count = 150
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SUBMITTER, url, name, str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("one", "two")
    ]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err
        assert out.split() == [str(count), str(count)]
    cases = open_case_store(url)
    try:
        stored = Counter(c["description"] for c in cases.iter_cases(CaseFilter()))
    finally:
        cases.close()
        cases.store.close()
    expected = {f"{name}-{i}" for name in ("one", "two") for i in range(count)}
    assert set(stored) == expected and set(stored.values()) == {1}
