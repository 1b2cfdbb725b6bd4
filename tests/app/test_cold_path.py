"""What a fresh Lambda container loads for its first email, through the real handler and real botocore
clients against moto (in a process of its own, so moto's imports are not counted): none of the
libraries an email does not need. CPU figures are the benchmarks' (benchmarks/cold_import.py), never here."""
from __future__ import annotations

import ast
from pathlib import Path

from benchmarks.real_ingest import customer_mails, real_stack

ROOT = Path(__file__).resolve().parents[2]
# boto3 (and the s3transfer it imports): botocore's clients suffice; pydantic: the API's models;
# phonenumbers: SMS and forms; holidays: calendars that name a country.
NOT_FOR_AN_EMAIL = {"boto3", "s3transfer", "pydantic", "pydantic_core", "phonenumbers", "holidays", "moto"}


def test_the_first_email_of_a_fresh_process_loads_nothing_it_does_not_need() -> None:
    # Given a fresh process configured as Lambda configures it, reaching moto's server
    with real_stack(warm=False) as stack:
        # When it handles its first email through app.ingest_email
        run = stack.run(stack.put_mails(customer_mails(1)))
    # Then the email was handled (ticket created, acknowledged) without loading what it does not need
    assert run.statuses == ["created"]
    assert "botocore" in run.modules and "app" in run.modules
    assert run.modules & NOT_FOR_AN_EMAIL == set()


def test_no_deployed_module_imports_boto3() -> None:
    """botocore builds every client (chalicelib/adapters/aws.py); boto3 would cost each cold start ~25 ms."""
    offenders = []
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        if path.relative_to(ROOT / "chalicelib").parts[0] == "local":  # the local stack, never deployed
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "boto3"]
    assert offenders == []
