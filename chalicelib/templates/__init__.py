"""Message templates, rendered in a sandbox: customers' and agents' text never runs as code."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

_HERE = Path(__file__).parent


@lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import ChainableUndefined, FileSystemLoader
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(str(_HERE)),
        autoescape=False,  # plain-text mail; HTML templates would turn this on
        undefined=ChainableUndefined,  # a missing placeholder renders empty, never crashes a send
        keep_trailing_newline=True,
    )


def render_file(name: str, context: dict[str, Any]) -> str:
    return str(_environment().get_template(name).render(**context))


def render_string(source: str, context: dict[str, Any]) -> str:
    """Renders a template held as data (macros); raises jinja2's TemplateError on bad syntax."""
    return str(_environment().from_string(source).render(**context))
