"""``gridgis serve --workers 2``: each worker listens on a socket of its own (SO_REUSEPORT), so keep-alive
clients opening at once are spread over both; SIGTERM stops them all; a taken port is one clear error."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

CMD = [sys.executable, "-c", "from gridgis.cli import main; main()", "serve"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _workers(proc: subprocess.Popen, port: int) -> dict[int, set[int]]:
    """worker pid -> inodes of the sockets it listens on ``port`` with."""
    out = {}
    for child in psutil.Process(proc.pid).children(recursive=True):
        fds = {c.fd for c in child.net_connections("tcp") if c.status == "LISTEN" and c.laddr.port == port}
        if fds:
            out[child.pid] = {os.stat(f"/proc/{child.pid}/fd/{fd}").st_ino for fd in fds}
    return out


def test_two_workers_listen_on_sockets_of_their_own_and_share_the_clients(tmp_path: Path):
    port = _free_port()
    env = {**os.environ, "GRIDGIS_CASES_ESCALATE_SECONDS": "0", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    db = f"sqlite:///{tmp_path / 'g.db'}"
    proc = subprocess.Popen(
        [*CMD, "--db", db, "--port", str(port), "--workers", "2", "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while len(_workers(proc, port)) < 2:  # both workers up
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()[-2000:]
            time.sleep(0.2)
        workers = _workers(proc, port)
        inodes = [i for w in workers.values() for i in w]
        assert len(workers) == 2 and len(set(inodes)) == len(inodes) == 2  # not one socket shared

        clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}") for _ in range(32)]  # keep-alive, opened at once
        try:
            assert all(c.get("/healthz").status_code == 200 for c in clients)
            held = {
                pid: sum(1 for c in psutil.Process(pid).net_connections("tcp") if c.laddr.port == port and c.raddr)
                for pid in workers
            }
        finally:
            for c in clients:
                c.close()
        assert sum(held.values()) == 32 and min(held.values()) >= 1, held

        second = subprocess.run(  # a second server on the same port would silently take half the clients
            [*CMD, "--db", f"sqlite:///{tmp_path / 'other.db'}", "--port", str(port), "--workers", "2"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1 and f"Cannot listen on 127.0.0.1:{port}" in second.stderr

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in workers)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_taken_port_is_one_line_naming_it(tmp_path: Path, workers: str):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*CMD, "--db", f"sqlite:///{tmp_path / 'g.db'}", "--port", str(port), "--workers", workers],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in done.stderr and "Fix: choose another --port" in done.stderr
    assert "Traceback" not in done.stderr and "Serving" not in done.stderr  # it never claimed to serve


def test_workers_stop_when_the_server_is_killed_and_leave_no_metrics_folder(tmp_path: Path):
    """SIGKILL of ``gridgis serve`` (no chance to stop its workers): they stop by themselves and free the port;
    a server stopped normally removes the metrics folder it made."""
    port, tmp = _free_port(), tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(GRIDGIS_CASES_ESCALATE_SECONDS="0", TMPDIR=str(tmp))
    cmd = [*CMD, "--db", f"sqlite:///{tmp_path / 'g.db'}", "--port", str(port), "--workers", "2"]

    def started() -> tuple[subprocess.Popen, dict]:
        proc = subprocess.Popen([*cmd, "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 60
        while len(_workers(proc, port)) < 2:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        return proc, _workers(proc, port)

    proc, workers = started()
    assert len(list(tmp.glob("gridgis-metrics-*"))) == 1
    proc.kill()
    proc.wait(10)
    deadline = time.monotonic() + 15
    while any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in workers):
        assert time.monotonic() < deadline, "workers outlived the killed server"
        time.sleep(0.2)
    for stale in tmp.glob("gridgis-metrics-*"):  # a killed server cannot clean up after itself
        stale.rename(tmp_path / stale.name)
    proc, workers = started()  # the port is free again
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert list(tmp.glob("gridgis-metrics-*")) == []
