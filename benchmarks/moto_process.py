"""moto's server in a process of its own, for benchmarks that measure ShopDesk's real AWS path (botocore
serialization, HTTP, parsing of answers) without counting moto's own CPU or memory in ShopDesk's figures."""
from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_SERVE = (
    "import sys, threading\n"
    "from chalicelib.local.aws import MotoServer\n"
    "server = MotoServer(int(sys.argv[1]))\n"
    "server.start()\n"
    "threading.Event().wait()\n"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def moto_process(timeout: float = 30.0) -> Iterator[str]:
    """Starts moto on a free port in a child process; yields its endpoint URL; stops it afterwards."""
    port = free_port()
    child = subprocess.Popen([sys.executable, "-c", _SERVE, str(port)], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                if child.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        child.terminate()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
