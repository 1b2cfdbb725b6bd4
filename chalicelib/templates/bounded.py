"""The sandbox for templates people write (macros): bounded work and output by construction.

Jinja's immutable sandbox stops attribute tricks; it does not stop a 20-byte template from building
50 MB (`{{ 'x' * 50000000 }}`, `{% for i in range(99999) %}`) or `{{ 10 ** 10 ** 9 }}` from running for
ever. Here, before a template compiles, every loop's iterable is metered (one step per item), every
output and every `~` is measured, and at run time every call costs a step; operators that grow values
(`*`, `**`, `+`) are checked before they run, `%` string formatting and `str.format` are refused,
and only filters and string methods whose result size follows from their input are available.
So a render does at most MAX_STEPS steps and produces at most MAX_PRODUCED characters, whatever
it says, and the caller sees at most MAX_OUTPUT. Every refusal is a `RenderLimit` (a TemplateError)
naming the limit; no wall clock, no thread kill."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, nodes, pass_context
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

MAX_OUTPUT = 20_000  # characters a macro may render
MAX_PRODUCED = 5 * MAX_OUTPUT  # characters every output together may produce (captured blocks, macro calls)
MAX_VALUE = MAX_OUTPUT  # the longest string or sequence an operator or filter may build
MAX_STEPS = 10_000  # loop iterations and calls per render
MAX_INT_BITS = 4096  # about 1,200 digits

# Filters whose result is no larger than their input, or a fixed factor of it (HTML escaping).
_FILTERS = ("abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float",
            "forceescape", "groupby", "int", "items", "last", "length", "list", "lower", "map", "max", "min",
            "reject", "rejectattr", "reverse", "round", "safe", "select", "selectattr", "sort", "string",
            "striptags", "title", "trim", "truncate", "unique", "upper", "wordcount")
_STR_METHODS = frozenset({
    "capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha", "isdecimal", "isdigit",
    "islower", "isnumeric", "isspace", "istitle", "isupper", "lower", "lstrip", "partition", "removeprefix",
    "removesuffix", "replace", "rfind", "rindex", "rpartition", "rsplit", "rstrip", "split", "splitlines",
    "startswith", "strip", "swapcase", "title", "upper",
})


class RenderLimit(SecurityError):
    """A template asked for more work or output than a macro may take, or for a refused operation."""


@dataclass
class _Budget:
    steps: int = MAX_STEPS
    produced: int = MAX_PRODUCED

    def step(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise RenderLimit(f"the macro takes more than {MAX_STEPS} loop rounds and calls")

    def produce(self, text: str) -> str:
        self.produced -= len(text)
        if self.produced < 0:
            raise RenderLimit(f"the macro produces more than {MAX_PRODUCED} characters")
        return text


_BUDGET: ContextVar[_Budget] = ContextVar("macro_budget")


def _budget() -> _Budget:
    budget = _BUDGET.get(None)
    if budget is None:  # a template of this environment rendered outside render(): no budget, no work
        raise RenderLimit("bounded templates render through render()")
    return budget


def _checked_size(size: int, what: str) -> None:
    if size > MAX_VALUE:
        raise RenderLimit(f"{what} would hold more than {MAX_VALUE} items or characters")


def _sized(value: Any) -> bool:
    return isinstance(value, str | list | tuple)


def _check_binop(op: str, left: Any, right: Any) -> None:
    if op == "%" and isinstance(left, str):
        raise RenderLimit("%-formatting is not available in macros")
    if op == "*":
        for seq, times in ((left, right), (right, left)):
            if _sized(seq) and isinstance(times, int):
                _checked_size(len(seq) * max(times, 0), "a repeated text or list")
        if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise RenderLimit(f"the product has more than {MAX_INT_BITS} bits")
    elif op == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1 \
                and (abs(left).bit_length() - 1) * right > MAX_INT_BITS:
            raise RenderLimit(f"the power has more than {MAX_INT_BITS} bits")
    elif op == "+" and _sized(left) and _sized(right):
        _checked_size(len(left) + len(right), "the sum")


@pass_context
def _steps(_context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    budget = _budget()
    for item in iterable:
        budget.step()
        yield item


@pass_context
def _out(_context: Context, value: Any) -> str:
    return _budget().produce(str(value))


@pass_context
def _concat(_context: Context, parts: list[Any]) -> str:
    budget = _budget()
    texts = [str(part) for part in parts]
    _checked_size(sum(len(t) for t in texts), "the joined text")
    return budget.produce("".join(texts))


def _join(value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    if attribute is not None:
        raise RenderLimit("join by attribute is not available in macros")
    texts: list[str] = []
    size = 0
    for item in value:
        texts.append(str(item))
        size += len(texts[-1]) + len(d)
        _checked_size(size, "the joined text")
    return d.join(texts)


def _replace(s: Any, old: str, new: str, count: int | None = None) -> str:
    text = str(s)
    _checked_size(_replaced_size(text, str(old), str(new), count), "the replaced text")
    return text.replace(str(old), str(new), -1 if count is None else count)


def _replaced_size(text: str, old: str, new: str, count: int | None) -> int:
    found = len(text) + 1 if old == "" else text.count(old)
    if count is not None and count >= 0:
        found = min(found, count)
    return len(text) + found * (len(new) - len(old))


def _range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_STEPS:
        raise RenderLimit(f"range() holds at most {MAX_STEPS} numbers in a macro")
    return numbers


def _filter(node: nodes.Expr, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


def _as_expression(node: nodes.Expr) -> nodes.Expr:
    """Literal text becomes a constant, so it is counted like every other output."""
    return nodes.Const(node.data, lineno=node.lineno) if isinstance(node, nodes.TemplateData) else node


class _Metering(NodeTransformer):
    """Rewrites a parsed template so its loops, outputs and `~` joins go through the budget."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _filter(node.iter, "_steps")  # type: ignore[arg-type]  # jinja types For.iter as Node
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [_filter(_as_expression(n), "_out") for n in node.nodes]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _filter(nodes.List(node.nodes, lineno=node.lineno), "_concat")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        self.filters = {name: FILTERS[name] for name in _FILTERS}
        self.filters.update(join=_join, replace=_replace, _steps=_steps, _out=_out, _concat=_concat)
        self.globals = {name: self.globals[name] for name in ("dict", "cycler", "joiner", "namespace")}
        self.globals["range"] = _range

    def call_binop(self, context: Context, operator_: str, left: Any, right: Any) -> Any:
        _check_binop(operator_, left, right)
        return super().call_binop(context, operator_, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _budget().step()
        name = getattr(__obj, "__name__", "")
        owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if name in ("format", "format_map") and (owner is None or isinstance(owner, str)):
            raise RenderLimit("str.format is not available in macros")
        if isinstance(owner, str):
            if name not in _STR_METHODS:
                raise RenderLimit(f"str.{name} is not available in macros")
            if name == "replace" and len(args) >= 2:
                count = args[2] if len(args) > 2 else kwargs.get("count")
                _checked_size(_replaced_size(owner, str(args[0]), str(args[1]), count), "the replaced text")
        return super().call(__context, __obj, *args, **kwargs)


@lru_cache(maxsize=1)
def _environment() -> BoundedSandbox:
    return BoundedSandbox()


def render(source: str, context: dict[str, Any]) -> str:
    """Renders `source` within the budget; raises jinja2's TemplateError (RenderLimit for the limits)
    on bad syntax, unknown placeholders, refused operations and too much work or output. Errors of
    the template's own arithmetic (1/0, an overflow) propagate as Python raises them."""
    env = _environment()
    tree = _Metering().visit(env.parse(source))
    tree.set_environment(env)
    template = env.from_string(tree)
    token = _BUDGET.set(_Budget())
    try:
        chunks: list[str] = []
        size = 0
        for chunk in template.generate(**context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise RenderLimit(f"the macro renders more than {MAX_OUTPUT} characters")
            chunks.append(chunk)
        return "".join(chunks)
    finally:
        _BUDGET.reset(token)

