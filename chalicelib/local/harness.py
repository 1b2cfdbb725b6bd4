"""Runs the local stack as its own process on free ports and talks to its console (tests, benchmarks)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.local.env import HOST, PROJECT_ROOT, LocalConfig

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 never via a proxy


def free_ports(count: int) -> list[int]:
    """Distinct ports nobody listens on right now (held open together so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probe.bind((HOST, 0))
            sockets.append(probe)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for probe in sockets:
            probe.close()


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
        return True


@dataclass
class StackProcess:
    """A running `python -m chalicelib.local`, its ports, and where its output goes."""

    process: subprocess.Popen[bytes]
    config: LocalConfig
    output: Path

    @property
    def ports(self) -> list[int]:
        c = self.config
        return [c.aws_port, c.api_port, c.smtp_port, c.console_port, c.delivery_port]

    def request(self, method: str, path: str, document: Any = None, timeout: float = 70.0) -> tuple[int, Any]:
        data = json.dumps(document).encode() if document is not None else None
        request = urllib.request.Request(f"{self.config.console_url}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with _DIRECT.open(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            body = error.read()
            try:
                return error.code, json.loads(body or b"null")
            except ValueError:
                return error.code, body.decode("utf-8", "replace")

    def get(self, path: str) -> Any:
        status, document = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
        return document

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the stack exited with {self.process.returncode}:\n{self.output_tail()}")
            try:
                if self.request("GET", "/health", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the stack was not ready after {timeout:.0f} s:\n{self.output_tail()}")

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM, as a service manager would; SIGKILL to the group only if it does not stop in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)
        return self.process.returncode

    def output_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.output.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextmanager
def stack_process(*, api: bool = True, state_dir: Path | None = None, extra_env: Mapping[str, str] | None = None,
                  ready_timeout: float = 60.0) -> Iterator[StackProcess]:
    """Starts the stack on free ports, waits until its console answers, and stops it afterwards."""
    aws, api_port, smtp, console, delivery = free_ports(5)
    env = dict(os.environ)
    env.update(SHOPDESK_AWS_PORT=str(aws), SHOPDESK_API_PORT=str(api_port), SHOPDESK_SMTP_PORT=str(smtp),
               SHOPDESK_CONSOLE_PORT=str(console), SHOPDESK_DELIVERY_PORT=str(delivery), PYTHONUNBUFFERED="1")
    if state_dir is not None:
        env["SHOPDESK_LOCAL_DIR"] = str(state_dir)
    env.update(extra_env or {})
    config = LocalConfig.from_environ(env)
    handle, name = tempfile.mkstemp(prefix="shopdesk-local-", suffix=".log")
    output = Path(name)
    command = [sys.executable, "-m", "chalicelib.local", *([] if api else ["--no-api"])]
    with os.fdopen(handle, "wb") as log:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    running = StackProcess(process, config, output)
    try:
        running.wait_ready(ready_timeout)
        yield running
    finally:
        running.terminate()
        output.unlink(missing_ok=True)
