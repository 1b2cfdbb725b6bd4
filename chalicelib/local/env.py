"""The local stack's ports and paths (SHOPDESK_* variables) and the Lambda-like environment its code runs in."""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
STAGE = "local"
REGION = "eu-central-1"
ACCESS_KEY = "local"
PROJECT_ROOT = Path(__file__).resolve().parents[2]

# botocore prefers AWS_ENDPOINT_URL_<SERVICE> to AWS_ENDPOINT_URL, and `chalice local` lets the stage's
# AWS_ENDPOINT_URL in .chalice/config.json win over the process environment: the per-service names keep
# every process on the moto port actually in use.
ENDPOINT_SERVICES = ("DYNAMODB", "S3", "SES", "SESV2", "SNS", "STS", "CLOUDWATCH")
# Variables that would point boto3 at a real account.
UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CONFIG_FILE",
         "AWS_SHARED_CREDENTIALS_FILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")


class LocalConfigError(ValueError):
    """A SHOPDESK_* variable of the local stack holds an impossible value."""


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError as exc:
        raise LocalConfigError(f"{name} must be a port number, not {raw[:20]!r}") from exc
    if not 0 < port < 65536:
        raise LocalConfigError(f"{name} must be between 1 and 65535")
    return port


@dataclass(frozen=True)
class LocalConfig:
    """Where each part of the local stack listens; every port can be moved by an environment variable."""

    aws_port: int = 5000
    api_port: int = 8000
    smtp_port: int = 2525
    console_port: int = 8025
    delivery_port: int = 8026
    schedule_speedup: float = 1.0
    state_dir: Path = PROJECT_ROOT / ".local"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> LocalConfig:
        env = os.environ if environ is None else environ
        raw_speedup = env.get("SHOPDESK_SCHEDULE_SPEEDUP", "").strip() or "1"
        try:
            speedup = float(raw_speedup)
        except ValueError as exc:
            raise LocalConfigError("SHOPDESK_SCHEDULE_SPEEDUP must be a number") from exc
        if not 0 < speedup <= 3600:
            raise LocalConfigError("SHOPDESK_SCHEDULE_SPEEDUP must be above 0 and at most 3600")
        config = cls(
            aws_port=_port(env, "SHOPDESK_AWS_PORT", cls.aws_port),
            api_port=_port(env, "SHOPDESK_API_PORT", cls.api_port),
            smtp_port=_port(env, "SHOPDESK_SMTP_PORT", cls.smtp_port),
            console_port=_port(env, "SHOPDESK_CONSOLE_PORT", cls.console_port),
            delivery_port=_port(env, "SHOPDESK_DELIVERY_PORT", cls.delivery_port),
            schedule_speedup=speedup,
            state_dir=Path(env.get("SHOPDESK_LOCAL_DIR") or cls.state_dir),
        )
        ports = [config.aws_port, config.api_port, config.smtp_port, config.console_port, config.delivery_port]
        if len(set(ports)) != len(ports):
            raise LocalConfigError("the SHOPDESK_*_PORT variables must name five different ports")
        return config

    @property
    def aws_url(self) -> str:
        return f"http://{HOST}:{self.aws_port}"

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    @property
    def console_url(self) -> str:
        return f"http://{HOST}:{self.console_port}"

    @property
    def delivery_url(self) -> str:
        return f"http://{HOST}:{self.delivery_port}"

    @property
    def public_key_path(self) -> Path:
        from chalicelib.local.keys import public_key_path

        return public_key_path(self.state_dir)


def _chalice_stage_variables(project_root: Path) -> dict[str, str]:
    """The variables Lambda would get: the config's global ones, then the `local` stage's."""
    try:
        document = json.loads((project_root / ".chalice" / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    variables = dict(document.get("environment_variables") or {})
    variables.update((document.get("stages", {}).get(STAGE, {}) or {}).get("environment_variables") or {})
    return {str(k): str(v) for k, v in variables.items()}


def stage_environment(config: LocalConfig, project_root: Path = PROJECT_ROOT) -> dict[str, str]:
    """Everything the handlers, `chalice local` and boto3 need to reach moto instead of AWS."""
    env = _chalice_stage_variables(project_root)
    env.update(
        SHOPDESK_STAGE=STAGE,
        AWS_ENDPOINT_URL=config.aws_url,
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=ACCESS_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        SHOPDESK_JWT_PUBLIC_KEY_FILE=str(config.public_key_path),
    )
    from chalicelib.local.keys import AUDIENCE, ISSUER

    env.update(SHOPDESK_JWT_ISSUER=ISSUER, SHOPDESK_JWT_AUDIENCE=AUDIENCE)
    env.update({f"AWS_ENDPOINT_URL_{service}": config.aws_url for service in ENDPOINT_SERVICES})
    # Everything talks to 127.0.0.1 (boto3 to moto, moto to the SNS receiver): never through a proxy.
    for name in ("NO_PROXY", "no_proxy"):
        existing = [h for h in os.environ.get(name, "").split(",") if h.strip()]
        env[name] = ",".join(dict.fromkeys([*existing, HOST, "localhost"]))
    return env


def apply_environment(variables: Mapping[str, str]) -> None:
    """Makes this process look like the local stage (before any settings or client is built)."""
    for name in UNSET:
        os.environ.pop(name, None)
    os.environ.update(variables)
