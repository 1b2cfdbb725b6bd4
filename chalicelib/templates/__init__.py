"""Message templates, rendered in a sandbox: customers' and agents' text never runs as code."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

_HERE = Path(__file__).parent


@lru_cache(maxsize=2)
def _environment(strict: bool) -> Any:
    from jinja2 import ChainableUndefined, FileSystemLoader, StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(str(_HERE)),
        autoescape=False,  # plain-text mail; HTML templates would turn this on
        # Our own files render leniently (a missing value never stops an acknowledgement); templates
        # written by people (macros) are strict, so a typo or a sandbox refusal is reported at once.
        undefined=StrictUndefined if strict else ChainableUndefined,
        keep_trailing_newline=True,
    )


def render_file(name: str, context: dict[str, Any]) -> str:
    return str(_environment(False).get_template(name).render(**context))


def render_string(source: str, context: dict[str, Any]) -> str:
    """Renders a template held as data (macros) in the bounded sandbox (templates/bounded.py); raises
    jinja2's TemplateError on bad syntax, unknown placeholders, anything the sandbox refuses and too
    much work or output, and the template's own arithmetic errors (1/0) as Python raises them."""
    from chalicelib.templates.bounded import render

    return render(source, context)
