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


def test_a_taken_port_is_one_line_naming_it(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*CMD, "--db", f"sqlite:///{tmp_path / 'g.db'}", "--port", str(port), "--workers", "2"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in done.stderr and "Fix: choose another --port" in done.stderr
    assert "Traceback" not in done.stderr
