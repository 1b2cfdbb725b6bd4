"""Dependencies point inward: domain and services import no AWS or Chalice; `import app` stays light."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("boto3", "botocore", "chalice", "moto")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_domain_and_services_import_no_aws_or_chalice() -> None:
    offenders = []
    for folder in ("domain", "services"):
        for path in sorted((ROOT / "chalicelib" / folder).rglob("*.py")):
            bad = {m for m in imported_modules(path) if m.split(".")[0] in FORBIDDEN}
            if bad:
                offenders.append(f"{path.relative_to(ROOT)}: {sorted(bad)}")
    assert offenders == []


def test_domain_imports_nothing_outside_the_domain_and_stdlib() -> None:
    for path in sorted((ROOT / "chalicelib" / "domain").rglob("*.py")):
        for module in imported_modules(path):
            if module.startswith("chalicelib"):
                assert module.startswith("chalicelib.domain"), f"{path.name} imports {module}"


def test_only_adapters_build_boto3_clients() -> None:
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        relative = path.relative_to(ROOT / "chalicelib")
        if relative.parts[0] in ("adapters", "local"):
            continue
        assert not {m for m in imported_modules(path) if m.split(".")[0] in ("boto3", "botocore")}, relative


def test_import_app_loads_neither_boto3_nor_powertools() -> None:
    probe = (
        "import sys, app; "
        "heavy = [m for m in ('boto3', 'botocore', 'aws_lambda_powertools', 'jinja2', 'nh3') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


WALL_CLOCK = {"time": {"time", "time_ns", "gmtime", "localtime", "ctime", "asctime"},
              "datetime": {"now", "utcnow", "today"}, "date": {"today"}}


def wall_clock_reads(path: Path) -> list[str]:
    """Calls that read the wall clock (`time.time()`, `datetime.now()`, `gmtime()` imported bare …)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    bare = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            and node.module in WALL_CLOCK for alias in node.names if alias.name in WALL_CLOCK[node.module]}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute):
            owner = func.value.attr if isinstance(func.value, ast.Attribute) else getattr(func.value, "id", "")
            if func.attr in WALL_CLOCK.get(owner, set()):
                found.append(f"{path.name}:{node.lineno} {owner}.{func.attr}()")
        elif isinstance(func, ast.Name) and func.id in bare:
            found.append(f"{path.name}:{node.lineno} {func.id}()")
    return found


def test_adapters_take_time_from_the_clock_port() -> None:
    """Only SystemClock reads the wall clock; every other adapter is given a Clock (tests then tell the truth)."""
    offenders = [hit for path in sorted((ROOT / "chalicelib" / "adapters").rglob("*.py")) if path.name != "clock.py"
                 for hit in wall_clock_reads(path)]
    assert offenders == []
    assert wall_clock_reads(ROOT / "chalicelib" / "adapters" / "clock.py")  # the check does see a read


def test_services_import_no_adapter_and_no_composition_root() -> None:
    """Services take their ports as arguments: only the bootstrap (and tests) pick concrete classes."""
    offenders = []
    for path in sorted((ROOT / "chalicelib" / "services").rglob("*.py")):
        bad = {m for m in imported_modules(path)
               if m.startswith(("chalicelib.adapters", "chalicelib.bootstrap", "chalicelib.api", "chalicelib.local"))}
        if bad:
            offenders.append(f"{path.relative_to(ROOT)}: {sorted(bad)}")
    assert offenders == []


def test_domain_reads_no_environment_and_no_files() -> None:
    offenders = [f"{path.name}: {sorted(bad)}" for path in sorted((ROOT / "chalicelib" / "domain").rglob("*.py"))
                 if (bad := {m for m in imported_modules(path) if m.split(".")[0] in ("os", "pathlib", "io")})]
    assert offenders == []


def test_route_modules_do_not_import_each_other() -> None:
    """Both declare their routes on the blueprint in api/endpoint.py; neither needs the other."""
    routes = imported_modules(ROOT / "chalicelib" / "api" / "routes.py")
    sla_routes = imported_modules(ROOT / "chalicelib" / "api" / "sla_routes.py")
    assert "chalicelib.api.sla_routes" not in routes and "chalicelib.api.routes" not in sla_routes
    assert {"chalicelib.api.endpoint"} <= routes & sla_routes


def test_the_web_form_is_not_dressed_up_as_ses_mail() -> None:
    imported = imported_modules(ROOT / "chalicelib" / "services" / "inbound" / "web_form.py")
    assert not {m for m in imported if m.startswith("chalicelib.mail")}
