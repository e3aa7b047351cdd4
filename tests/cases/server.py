"""A real ``gridgis serve`` in a subprocess, for the durability test (and nothing else: no mocks)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

GRIDGIS = str(Path(sys.executable).parent / "gridgis")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``gridgis serve --db URL`` on a free port; :meth:`kill` sends SIGKILL (no clean shutdown)."""

    def __init__(self, url: str, keys: str, log: Path):
        self.url, self.keys, self.log = url, keys, log
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        env = {**os.environ, "GRIDGIS_API_KEYS": self.keys, "GRIDGIS_CASES_ESCALATE_SECONDS": "0"}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [GRIDGIS, "serve", "--db", self.url, "--port", str(self.port), "--log-level", "warning"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gridgis serve exited with {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"gridgis serve did not answer in {timeout} s: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
