"""Runs every benchmark and prints its figures (python -m benchmarks [name ...]); figures over their target
are marked and listed again at the end. Figures, not assertions: the exit status is 0 either way."""
from __future__ import annotations

import importlib
import os
import sys
import time

# Figures, not logs: the handlers' structured logs and EMF lines would bury them.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

SUITES = ["aws_calls", "sms_calls", "pipeline_cpu", "cold_import", "big_mail_memory", "api_calls", "local_latency",
          "package_size", "sla_sweep", "hostile_mail", "thread_detail", "write_units", "ticket_numbers",
          "pending_acks"]


def main(argv: list[str]) -> int:
    from benchmarks import report

    chosen = argv or SUITES
    failed: list[str] = []
    for name in chosen:
        module = importlib.import_module(f"benchmarks.{name}")
        started = time.perf_counter()
        print(f"== {name}: {module.__doc__.strip().splitlines()[0] if module.__doc__ else ''}", flush=True)
        report.begin(name)
        try:
            module.main()
        except Exception as exc:
            failed.append(name)
            print(f"   failed: {exc.__class__.__name__}: {exc}")
        print(f"   ({time.perf_counter() - started:.1f} s)\n", flush=True)
    print("== summary: " + "\n".join(report.summary_lines()), flush=True)
    if failed:
        print(f"   benchmarks that failed (no figures): {', '.join(failed)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
