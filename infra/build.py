"""Builds the CDK app for one stage from context and environment, validated by the app's own settings parser."""
from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App, Aspects, Environment
from cdk_nag import AwsSolutionsChecks

from chalicelib.config import load_settings
from infra.stacks.shopdesk_stack import ShopDeskStack, StackSettings

# Stage names end up in bucket, table and topic names: keep them DNS- and S3-safe.
STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
# Set by infra for every function; an operator's value would be ignored or must not be in the template.
MANAGED_VARIABLES = frozenset({"SHOPDESK_STAGE", "SHOPDESK_REPLY_SECRET", "SHOPDESK_USER_POOL_ID",
                               "SHOPDESK_USER_POOL_CLIENT_ID"})
DEFAULT_OUTDIR = Path(__file__).resolve().parent / "cdk.out"


def stack_settings(stage: str, environ: Mapping[str, str], build_dir: Path,
                   addresses_json: str | None = None) -> StackSettings:
    """The operator's SHOPDESK_* variables, checked now by chalicelib.config rather than at the first cold start."""
    if not STAGE_PATTERN.match(stage):
        raise ValueError(f"stage {stage!r} must match {STAGE_PATTERN.pattern}")
    app_environment = {k: v for k, v in environ.items() if k.startswith("SHOPDESK_") and k not in MANAGED_VARIABLES}
    if addresses_json is not None:
        app_environment["SHOPDESK_ADDRESSES"] = addresses_json
    # The real reply secret is generated in Secrets Manager; a placeholder lets prod's settings validate here.
    parsed = load_settings({**app_environment, "SHOPDESK_STAGE": stage, "SHOPDESK_REPLY_SECRET": "checked-by-infra"})
    app_environment["SHOPDESK_ADDRESSES"] = json.dumps(dict(parsed.support_addresses), sort_keys=True)
    return StackSettings(stage=stage, support_addresses=dict(parsed.support_addresses),
                         app_environment=app_environment, build_dir=build_dir)


def build_app(stage: str | None = None, environ: Mapping[str, str] | None = None, outdir: Path | None = None,
              context: Mapping[str, Any] | None = None) -> tuple[App, ShopDeskStack]:
    """One App with one stage's stack and cdk-nag's AwsSolutions checks attached.

    The stage comes from the argument, else `-c stage=…`, else SHOPDESK_STAGE, else dev. Without
    CDK_DEFAULT_ACCOUNT/REGION (set by the cdk CLI when it has credentials) the stack is environment-agnostic,
    so synthesis needs no account and no network.
    """
    environ = os.environ if environ is None else environ
    app = App(outdir=str(outdir) if outdir else None, context=dict(context) if context else None)
    stage = stage or app.node.try_get_context("stage") or environ.get("SHOPDESK_STAGE") or "dev"
    addresses = app.node.try_get_context("addresses")
    if addresses is not None and not isinstance(addresses, str):
        addresses = json.dumps(addresses)
    settings = stack_settings(stage, environ, Path(app.outdir) / "chalice-build", addresses)
    stack = ShopDeskStack(app, settings, env=Environment(account=environ.get("CDK_DEFAULT_ACCOUNT"),
                                                         region=environ.get("CDK_DEFAULT_REGION")))
    Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app, stack
