"""CDK entry point (cdk.json runs `python app.py` in infra/): synthesizes one ShopDesk stage for the cdk CLI."""
from __future__ import annotations

import sys
from pathlib import Path

# The cdk CLI runs this file as a script from infra/; the project root holds app.py, chalicelib and infra.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.build import build_app


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
