"""`python -m infra [--stage S]`: synthesizes one stage offline, then fails on cdk-nag or cfn-lint errors."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from infra.build import DEFAULT_OUTDIR, build_app
from infra.checks import check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra", description=__doc__)
    parser.add_argument("--stage", help="stage to synthesize (default: -c stage, SHOPDESK_STAGE, or dev)")
    parser.add_argument("--outdir", type=Path, default=DEFAULT_OUTDIR, help="cloud assembly directory")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    app, stack = build_app(stage=args.stage, outdir=args.outdir)
    assembly = app.synth()
    synthesized = time.perf_counter()
    report = check(assembly, stack)
    checked = time.perf_counter()

    for line in report.lines():
        print(line)
    template = Path(assembly.directory, stack.template_file)
    print(f"stack {stack.stack_name} ({stack.node.id}): {template}")
    print(f"synth {synthesized - started:.1f} s, checks {checked - synthesized:.1f} s; "
          f"cdk-nag {len(report.nag_errors)} errors / {len(report.nag_warnings)} warnings, "
          f"cfn-lint {len(report.lint_errors)} errors / {len(report.lint_warnings)} warnings")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
