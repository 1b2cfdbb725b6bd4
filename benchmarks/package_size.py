"""Zipped Lambda deployment package as `chalice package` (and so chalice.cdk) builds it; target < 10 MB."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

from benchmarks.report import figure

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB = 10.0
MB = 1024 * 1024


def _package(output_dir: Path) -> Path:
    """Runs Chalice's packager in a child process: it imports app.py and sets the stage's variables."""
    env = {**os.environ, "SHOPDESK_STAGE": "dev"}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # chalice insists; the template uses ${AWS::Region}
    command = [sys.executable, "-c", "from chalice.cli import main; main()", "package", "--stage", "dev",
               str(output_dir)]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return output_dir / "deployment.zip"


def _top_level(name: str) -> str:
    head = name.split("/", 1)[0]
    return head.split("-", 1)[0] if head.endswith((".dist-info", ".data")) else head


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        archive = _package(Path(tmp) / "package")
        zipped = archive.stat().st_size
        compressed: Counter[str] = Counter()
        unpacked = 0
        with zipfile.ZipFile(archive) as package:
            for info in package.infolist():
                compressed[_top_level(info.filename)] += info.compress_size
                unpacked += info.file_size
    figure("deployment.zip zipped", zipped / MB, "MB", target=TARGET_MB, inclusive=False)
    figure("deployment.zip unpacked", unpacked / MB, "MB",
           note="(Powertools packaged from requirements.txt, no public layer; boto3 comes with the runtime)")
    for name, size in compressed.most_common(6):
        figure(f"part {name} (compressed)", size / MB, "MB")


if __name__ == "__main__":
    main()
