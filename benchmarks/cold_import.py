"""`import app` against `import boto3` alone, each in a fresh process; median of several runs."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.report import figure

ROOT = Path(__file__).resolve().parents[1]
RUNS = 9


def _time(statement: str) -> float:
    env = {**os.environ, "SHOPDESK_STAGE": "dev", "PYTHONDONTWRITEBYTECODE": "0"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - started


def main() -> None:
    _time("import app"), _time("import boto3")  # warm the bytecode caches once
    baseline = statistics.median(_time("pass") for _ in range(RUNS))
    app = statistics.median(_time("import app") for _ in range(RUNS)) - baseline
    boto3 = statistics.median(_time("import boto3") for _ in range(RUNS)) - baseline
    figure("import app", app * 1000, "ms", digits=1, note="(interpreter start subtracted)")
    figure("import boto3", boto3 * 1000, "ms", digits=1)
    figure("ratio app / boto3", app / boto3, "x", target=0.3)
