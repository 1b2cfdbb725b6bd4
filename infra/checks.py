"""The offline checks on a synthesized stack: cdk-nag findings (annotations) and cfn-lint on the template."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import Stack, cx_api

# Where SES receives mail (see infra/README.md); cfn-lint also checks resource types exist there.
LINT_REGIONS = ("us-east-1", "us-west-2", "eu-west-1")


@dataclass
class CheckReport:
    nag_errors: list[str] = field(default_factory=list)
    nag_warnings: list[str] = field(default_factory=list)
    lint_errors: list[str] = field(default_factory=list)
    lint_warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.nag_errors and not self.lint_errors

    def lines(self) -> list[str]:
        return [
            *(f"cdk-nag error   {m}" for m in self.nag_errors),
            *(f"cdk-nag warning {m}" for m in self.nag_warnings),
            *(f"cfn-lint error  {m}" for m in self.lint_errors),
            *(f"cfn-lint warn   {m}" for m in self.lint_warnings),
        ]


def nag_messages(assembly: cx_api.CloudAssembly, stack: Stack) -> tuple[list[str], list[str]]:
    """(errors, warnings) that cdk-nag's AwsSolutions pack left after suppressions."""
    artifact = assembly.get_stack_artifact(stack.artifact_id)
    errors: list[str] = []
    warnings: list[str] = []
    for message in artifact.messages:
        text = f"{message.id}: {message.entry.data}"
        if "AwsSolutions-" not in text:
            continue
        if message.level == cx_api.SynthesisMessageLevel.ERROR:
            errors.append(text)
        elif message.level == cx_api.SynthesisMessageLevel.WARNING:
            warnings.append(text)
    return errors, warnings


def lint_template(template: dict[str, Any] | str) -> tuple[list[str], list[str]]:
    """(errors, warnings) from cfn-lint, which validates the SAM resources against SAM's own schema."""
    from cfnlint.api import lint
    from cfnlint.config import ManualArgs

    text = template if isinstance(template, str) else json.dumps(template)
    matches = lint(text, config=ManualArgs(regions=list(LINT_REGIONS)))
    errors = [str(m) for m in matches if m.rule.id.startswith("E")]
    warnings = [str(m) for m in matches if m.rule.id.startswith("W")]
    return errors, warnings


def check(assembly: cx_api.CloudAssembly, stack: Stack) -> CheckReport:
    nag_errors, nag_warnings = nag_messages(assembly, stack)
    template = Path(assembly.directory, stack.template_file).read_text()
    lint_errors, lint_warnings = lint_template(template)
    return CheckReport(nag_errors, nag_warnings, lint_errors, lint_warnings)
