"""How every benchmark prints a figure: one line, its target, and `OVER TARGET` when it misses it; the
figures that missed are kept for the summary at the end of `make bench` (which never fails the build)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Better = Literal["lower", "higher"]
OVER = "OVER TARGET"
NAME_WIDTH = 52


@dataclass(frozen=True)
class Figure:
    suite: str
    name: str
    value: float
    unit: str
    target: float | None
    better: Better
    inclusive: bool

    @property
    def over(self) -> bool:
        """True when the figure misses its target (lower is better: above it; higher: below it)."""
        if self.target is None:
            return False
        if self.better == "lower":
            return self.value > self.target if self.inclusive else self.value >= self.target
        return self.value < self.target if self.inclusive else self.value <= self.target

    def target_text(self) -> str:
        if self.target is None:
            return ""
        sign = {("lower", True): "<=", ("lower", False): "<", ("higher", True): ">=", ("higher", False): ">"}
        return f"(target {sign[self.better, self.inclusive]} {self.target:g}{_unit(self.unit)})"


_missed: list[Figure] = []
_suite = ""


def _number(value: float, digits: int = 2) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.{digits}f}"


def _unit(unit: str) -> str:
    return unit if unit in ("x", "%") else f" {unit}" if unit else ""


def begin(suite: str) -> None:
    """Figures printed from now on belong to this benchmark (python -m benchmarks calls it)."""
    global _suite
    _suite = suite


def figure(name: str, value: float, unit: str = "", *, target: float | None = None, better: Better = "lower",
           inclusive: bool = True, digits: int = 2, note: str = "") -> Figure:
    """Prints `   <name>  <value> <unit>  [(target <= T)] [note]  [OVER TARGET]` and remembers a miss."""
    result = Figure(_suite, name, value, unit, target, better, inclusive)
    line = f"   {name:<{NAME_WIDTH}} {_number(value, digits):>10}{_unit(unit):<11}"
    line = " ".join(part for part in (line, result.target_text(), note) if part).rstrip()
    if result.over:
        line += f"  {OVER}"
        _missed.append(result)
    print(line, flush=True)
    return result


def missed() -> list[Figure]:
    """Every figure printed so far that missed its target, in the order printed."""
    return list(_missed)


def summary_lines() -> list[str]:
    if not _missed:
        return ["every figure with a target is within it"]
    lines = [f"{len(_missed)} figure{'s' if len(_missed) != 1 else ''} {OVER}:"]
    for f in _missed:
        lines.append(f"   {f.suite}: {f.name} {_number(f.value)}{_unit(f.unit)} {f.target_text()}")
    return lines
