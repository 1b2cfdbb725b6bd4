"""Embeds app.py through chalice.cdk and describes the Lambda functions Chalice generated for it."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constructs import Construct

PROJECT_DIR = Path(__file__).resolve().parents[2]
# Event sources that invoke Lambda asynchronously: failures end in the function's on-failure destination.
ASYNC_EVENT_TYPES = frozenset({"SNS", "Schedule", "CloudWatchEvent", "EventBridgeRule"})
# Chalice names the function behind the REST API after the app object (`app.app`).
API_HANDLER = "api_handler"


@dataclass(frozen=True)
class ChaliceFunction:
    """One AWS::Serverless::Function of the packaged app, as Chalice's SAM template declares it."""

    logical_id: str
    handler: str
    event_types: frozenset[str]

    @property
    def name(self) -> str:
        """The handler's name in app.py (`ingest_email`), or `api_handler` for the REST API's function."""
        name = self.handler.rsplit(".", 1)[-1]
        return API_HANDLER if name == "app" else name

    @property
    def is_async(self) -> bool:
        return bool(self.event_types & ASYNC_EVENT_TYPES)


def _is_app_module(name: str) -> bool:
    return name == "app" or name == "chalicelib" or name.startswith("chalicelib.")


@contextlib.contextmanager
def _isolated(workdir: Path) -> Iterator[None]:
    """chalice.cdk imports `app` in this process, writes the stage's variables into os.environ and its
    package into ./chalice.out: confine all three. The app and chalicelib are imported afresh, as a new
    process would (a stage's topic names come from that stage; blueprints register once per import), and
    the caller (a test run, another stage) finds its modules, environment and directory as they were."""
    saved_env = dict(os.environ)
    saved_modules = {name: module for name, module in sys.modules.items() if _is_app_module(name)}
    saved_cwd = Path.cwd()
    try:
        for name in saved_modules:
            del sys.modules[name]
        shutil.rmtree(workdir / "chalice.out", ignore_errors=True)
        workdir.mkdir(parents=True, exist_ok=True)
        os.chdir(workdir)
        # `chalice package` insists on a region although the template it writes uses ${AWS::Region}.
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        for name in [name for name in sys.modules if _is_app_module(name)]:
            del sys.modules[name]
        sys.modules.update(saved_modules)


def _functions(sam_template: Mapping[str, Any]) -> list[ChaliceFunction]:
    functions = []
    for logical_id, resource in sam_template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        events = properties.get("Events", {}).values()
        functions.append(ChaliceFunction(logical_id, properties["Handler"], frozenset(e["Type"] for e in events)))
    return functions


def package_chalice_app(
    scope: Construct, construct_id: str, stage_config: Mapping[str, Any], workdir: Path
) -> tuple[Any, list[ChaliceFunction]]:
    """Packages the app (`chalice package` under the hood) for the stage named by `scope`'s construct id."""
    from chalice.cdk import Chalice

    with _isolated(workdir):
        construct = Chalice(scope, construct_id, source_dir=str(PROJECT_DIR), stage_config=dict(stage_config))
        (template_path,) = (workdir / "chalice.out").glob("*.sam_with_assets.json")
        functions = _functions(json.loads(template_path.read_text()))
    return construct, functions
