"""Runs `chalice local --stage local` for the stack; on Linux it dies with the stack even if that is killed."""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from chalicelib.local.env import HOST, PROJECT_ROOT, STAGE


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        try:
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
        except (AttributeError, OSError):
            pass  # no prctl: the stack still stops the API on any orderly exit
    if os.getppid() != parent:  # the stack died before the line above took effect
        sys.exit(0)


def _route_logs() -> None:
    """The same console lines and log file as the stack; one line per request, its path without the query."""
    import logging
    from urllib.parse import unquote, urlsplit

    from chalice.local import ChaliceRequestHandler

    from chalicelib.local.env import LocalConfig
    from chalicelib.local.logs import install

    install(LocalConfig.from_environ().state_dir)
    log = logging.getLogger("shopdesk_local.api")

    def log_request(self: ChaliceRequestHandler, code: int | str = "-", size: int | str = "-") -> None:
        log.info("API %s %s -> %s", self.command, unquote(urlsplit(self.path).path), code)

    def log_message(self: ChaliceRequestHandler, format: str, *args: object) -> None:
        log.warning("API: %s", format % args)

    ChaliceRequestHandler.log_request = log_request
    ChaliceRequestHandler.log_message = log_message


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.local.api")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    _die_with_parent(args.parent)
    _route_logs()
    from chalice.cli import main as chalice_main

    sys.argv = ["chalice", "--project-dir", str(PROJECT_ROOT), "local", "--stage", STAGE, "--host", HOST,
                "--port", str(args.port), "--no-autoreload"]
    return chalice_main()


class ApiProcess:
    """The API as a child process in its own session: Ctrl-C reaches the stack, which stops it in order."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chalicelib.local.api", "--port", str(self.port), "--parent", str(os.getpid())],
            cwd=PROJECT_ROOT, env=dict(os.environ), start_new_session=True,
        )

    def wait_ready(self, timeout: float, cancelled: Callable[[], bool]) -> bool:
        """True once the port accepts connections; False if the process ended, time ran out or we were cancelled."""
        import socket

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not cancelled():
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.1)
        return False

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        process = self.process
        if process is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if process.poll() is not None:
                break
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                continue
        process.wait(timeout=timeout)


if __name__ == "__main__":
    sys.exit(main())
