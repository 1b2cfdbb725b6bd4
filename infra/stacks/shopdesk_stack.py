"""The ShopDesk stack for one stage: data, mail intake, topics, the Chalice app, its role, alarms and users."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import (
    CfnOutput,
    Duration,
    RemovalPolicy,
    Stack,
    Tags,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from chalicelib.observability import NAMESPACE, SERVICE
from chalicelib.resources import (
    INBOUND_PREFIX,
    INDEX_KEYS,
    TTL_ATTRIBUTE,
    USER_GROUPS,
    ResourceNames,
    table_definition,
)
from infra.stacks.chalice_app import ChaliceFunction, package_chalice_app

SMS_STATEMENT_SID = "SendSms"  # the one statement with Resource "*" (see _function_statements)
LAMBDA_MEMORY_MB = 512  # a 40 MB mail parsed in memory needs headroom; more memory also means more CPU
LAMBDA_TIMEOUT_S = 60
ATTRIBUTE_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER,
                   "B": dynamodb.AttributeType.BINARY}
PROJECTIONS = {"ALL": dynamodb.ProjectionType.ALL, "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
               "INCLUDE": dynamodb.ProjectionType.INCLUDE}


@dataclass(frozen=True)
class StackSettings:
    """What varies per deployment: the stage, the store's addresses and the app's environment."""

    stage: str
    support_addresses: Mapping[str, str]  # address -> queue, validated by chalicelib.config
    app_environment: Mapping[str, str]  # SHOPDESK_* for the functions, without the reply secret
    build_dir: Path  # where chalice.cdk writes its package while the app synthesizes

    @property
    def prod(self) -> bool:
        return self.stage == "prod"

    @property
    def domains(self) -> list[str]:
        return sorted({address.rsplit("@", 1)[1] for address in self.support_addresses})


def suppress(construct: Construct, rule: str, reason: str, applies_to: list[str] | None = None) -> None:
    """A cdk-nag suppression always says why (reviewed with the rule's id in infra/README.md)."""
    NagSuppressions.add_resource_suppressions(
        construct, [NagPackSuppression(id=rule, reason=reason, applies_to=applies_to)], apply_to_children=True
    )


class ShopDeskStack(Stack):
    """One stage of ShopDesk. The construct id is the stage: chalice.cdk names its stage after its scope."""

    def __init__(self, scope: Construct, settings: StackSettings, **kwargs: Any) -> None:
        names = ResourceNames(settings.stage)
        super().__init__(scope, settings.stage, stack_name=names.prefix,
                         description=f"ShopDesk customer support ({settings.stage})", **kwargs)
        self.names = names
        self.settings = settings
        self.removal = RemovalPolicy.RETAIN if settings.prod else RemovalPolicy.DESTROY
        Tags.of(self).add("app", "shopdesk")
        Tags.of(self).add("stage", settings.stage)

        self.table = self._table()
        self.topic_key = self._topic_key()
        self.inbound_email_topic = self._topic("InboundEmailTopic", names.inbound_email_topic)
        self.inbound_sms_topic = self._topic("InboundSmsTopic", names.inbound_sms_topic)
        self.escalations_topic = self._topic("EscalationsTopic", names.escalations_topic)
        self.alarm_topic = self._topic("AlarmTopic", None)
        self.named_topics = (self.inbound_email_topic, self.inbound_sms_topic, self.escalations_topic)
        self.bucket = self._raw_mail_bucket()
        self.rule_set = self._receipt_rules()
        self._allow_sms_publishing()
        self.user_pool, self.user_pool_client = self._user_pool()
        self.reply_secret = self._reply_secret()
        self.role = iam.Role(self, "FunctionRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                             description=f"ShopDesk {settings.stage} Lambda functions")
        self.chalice, self.functions = package_chalice_app(self, "ChaliceApp", self._stage_config(),
                                                           settings.build_dir)
        self.dead_letter_queues = self._wire_functions()
        self._alarms()
        self._outputs()

    # --- data ---------------------------------------------------------------------------------------------

    def _table(self) -> dynamodb.Table:
        """The single table, shaped by chalicelib.resources.table_definition (what the local stack creates)."""
        definition = table_definition(self.names.table)
        types = {a["AttributeName"]: ATTRIBUTE_TYPES[a["AttributeType"]] for a in definition["AttributeDefinitions"]}

        def key(schema: list[dict[str, str]], kind: str) -> dynamodb.Attribute:
            name = next(k["AttributeName"] for k in schema if k["KeyType"] == kind)
            return dynamodb.Attribute(name=name, type=types[name])

        if definition["BillingMode"] != "PAY_PER_REQUEST":
            raise ValueError("infra builds an on-demand table; table_definition changed its billing mode")
        table = dynamodb.Table(
            self, "Tickets", table_name=definition["TableName"],
            partition_key=key(definition["KeySchema"], "HASH"), sort_key=key(definition["KeySchema"], "RANGE"),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            time_to_live_attribute=TTL_ATTRIBUTE,
            deletion_protection=self.settings.prod,
            removal_policy=self.removal,
        )
        for index in definition["GlobalSecondaryIndexes"]:
            table.add_global_secondary_index(
                index_name=index["IndexName"],
                partition_key=key(index["KeySchema"], "HASH"), sort_key=key(index["KeySchema"], "RANGE"),
                projection_type=PROJECTIONS[index["Projection"]["ProjectionType"]],
                non_key_attributes=index["Projection"].get("NonKeyAttributes"),
            )
        return table

    def _raw_mail_bucket(self) -> s3.Bucket:
        bucket = s3.Bucket(
            self, "RawMail", bucket_name=self.names.raw_mail_bucket,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            removal_policy=self.removal,
            lifecycle_rules=[
                # Raw MIME is evidence, rarely read after ingest: Instant Retrieval keeps GetObject working.
                s3.LifecycleRule(id="raw-mail", prefix=INBOUND_PREFIX, expiration=Duration.days(730),
                                 transitions=[s3.Transition(storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                                                            transition_after=Duration.days(90))]),
                s3.LifecycleRule(id="quarantine", prefix="quarantine/", expiration=Duration.days(730)),
                # attachments/ and bodies/ belong to tickets and stay as long as the ticket does.
                s3.LifecycleRule(id="incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(7)),
            ],
        )
        suppress(bucket, "AwsSolutions-S1", "Only SES and the stack's Lambda role write or read this bucket; "
                 "server access logs would be a second copy of personal-data metadata. Enable CloudTrail S3 data "
                 "events in the account if object-level auditing is required.")
        return bucket

    # --- topics -------------------------------------------------------------------------------------------

    def _topic_key(self) -> kms.Key:
        """SNS server-side encryption needs a customer managed key: SES, SMS and CloudWatch must be allowed."""
        key = kms.Key(self, "TopicKey", alias=f"alias/{self.names.prefix}-topics", enable_key_rotation=True,
                      description=f"Encrypts the ShopDesk {self.settings.stage} SNS topics",
                      removal_policy=self.removal)
        for sid, service, same_account in (("SesPublishes", "ses.amazonaws.com", True),
                                           ("SmsPublishes", "sms-voice.amazonaws.com", True),
                                           ("AlarmsPublish", "cloudwatch.amazonaws.com", False)):
            key.add_to_resource_policy(iam.PolicyStatement(
                sid=sid, principals=[iam.ServicePrincipal(service)],
                actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": self.account}} if same_account else None,
            ))
        return key

    def _topic(self, construct_id: str, name: str | None) -> sns.Topic:
        return sns.Topic(self, construct_id, topic_name=name, master_key=self.topic_key, enforce_ssl=True)

    def _allow_sms_publishing(self) -> None:
        """End User Messaging two-way SMS publishes inbound texts to the inbound-sms topic (see README)."""
        self.inbound_sms_topic.add_to_resource_policy(iam.PolicyStatement(
            sid="EndUserMessagingPublishes", principals=[iam.ServicePrincipal("sms-voice.amazonaws.com")],
            actions=["sns:Publish"], resources=[self.inbound_sms_topic.topic_arn],
            conditions={"StringEquals": {"aws:SourceAccount": self.account}},
        ))

    # --- mail intake --------------------------------------------------------------------------------------

    @property
    def receipt_rule_name(self) -> str:
        return self.names.receipt_rule

    @property
    def receipt_rule_arn(self) -> str:
        return (f"arn:{self.partition}:ses:{self.region}:{self.account}:receipt-rule-set/"
                f"{self.names.receipt_rule_set}:receipt-rule/{self.receipt_rule_name}")

    def _receipt_rules(self) -> ses.ReceiptRuleSet:
        """Store the raw mail in S3 and notify the inbound-email topic; SES scans for spam and viruses first.

        The rule is an L1 resource on purpose: aws_ses_actions.S3 adds its own bucket statement conditioned on
        the account only, which would let any rule set of the account write to the bucket.
        """
        self.bucket.add_to_resource_policy(iam.PolicyStatement(
            sid="OnlyThisReceiptRuleWrites", principals=[iam.ServicePrincipal("ses.amazonaws.com")],
            actions=["s3:PutObject"], resources=[self.bucket.arn_for_objects(f"{INBOUND_PREFIX}*")],
            conditions={"StringEquals": {"aws:SourceAccount": self.account, "aws:SourceArn": self.receipt_rule_arn}},
        ))
        self.inbound_email_topic.add_to_resource_policy(iam.PolicyStatement(
            sid="SesPublishesReceivedMail", principals=[iam.ServicePrincipal("ses.amazonaws.com")],
            actions=["sns:Publish"], resources=[self.inbound_email_topic.topic_arn],
            conditions={"StringEquals": {"aws:SourceAccount": self.account},
                        "ArnLike": {"aws:SourceArn": f"arn:{self.partition}:ses:*"}},
        ))
        rule_set = ses.ReceiptRuleSet(self, "ReceiptRuleSet", receipt_rule_set_name=self.names.receipt_rule_set)
        rule = ses.CfnReceiptRule(
            self, "StoreAddresses", rule_set_name=rule_set.receipt_rule_set_name,
            rule=ses.CfnReceiptRule.RuleProperty(
                name=self.receipt_rule_name, enabled=True, scan_enabled=True, tls_policy="Optional",
                # An address condition also matches its plus-addressed forms (support+<token>@…), which the
                # signed reply addresses use; see infra/README.md for the SES documentation on labels.
                recipients=sorted(self.settings.support_addresses),
                actions=[ses.CfnReceiptRule.ActionProperty(s3_action=ses.CfnReceiptRule.S3ActionProperty(
                    bucket_name=self.bucket.bucket_name, object_key_prefix=INBOUND_PREFIX,
                    topic_arn=self.inbound_email_topic.topic_arn))],
            ),
        )
        # SES checks that it may write and publish when the rule is created.
        rule.node.add_dependency(self.bucket.policy)
        rule.node.add_dependency(self.inbound_email_topic.node.find_child("Policy"))
        rule.node.add_dependency(self.topic_key)
        return rule_set

    # --- users --------------------------------------------------------------------------------------------

    def _user_pool(self) -> tuple[cognito.UserPool, cognito.UserPoolClient]:
        pool = cognito.UserPool(
            self, "Agents", user_pool_name=f"{self.names.prefix}-agents",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            password_policy=cognito.PasswordPolicy(min_length=12, require_digits=True, require_lowercase=True,
                                                   require_uppercase=True, require_symbols=True,
                                                   temp_password_validity=Duration.days(3)),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            deletion_protection=self.settings.prod,
            removal_policy=self.removal,
        )
        suppress(pool, "AwsSolutions-COG8", "Threat protection needs the Cognito Plus feature plan, billed per "
                 "active user; agents are few, invited by an admin only, and must use TOTP MFA.")
        client = pool.add_client("AgentApp", auth_flows=cognito.AuthFlow(user_srp=True), generate_secret=False,
                                 prevent_user_existence_errors=True)
        for precedence, group in enumerate(USER_GROUPS):
            cognito.CfnUserPoolGroup(self, f"{group.title()}Group", user_pool_id=pool.user_pool_id,
                                     group_name=group, precedence=precedence,
                                     description=f"ShopDesk {group}s")
        return pool, client

    def _reply_secret(self) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self, "ReplySecret", secret_name=f"{self.names.prefix}/reply-secret",
            description="HMAC key of ShopDesk's signed reply addresses (support+<ticket>.<hmac>@)",
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=48,
                                                                        exclude_punctuation=True),
            removal_policy=self.removal,
        )
        suppress(secret, "AwsSolutions-SMG4", "Rotating the reply-address key would invalidate every signed "
                 "reply address customers still hold; the app verifies against a single key.")
        return secret

    # --- the Chalice app ----------------------------------------------------------------------------------

    def _stage_config(self) -> dict[str, Any]:
        environment = {
            **self.settings.app_environment,
            "SHOPDESK_STAGE": self.settings.stage,
            # A CloudFormation dynamic reference: the key never appears in the template or the cloud assembly.
            "SHOPDESK_REPLY_SECRET": self.reply_secret.secret_value.unsafe_unwrap(),
            "SHOPDESK_USER_POOL_ID": self.user_pool.user_pool_id,
            "SHOPDESK_USER_POOL_CLIENT_ID": self.user_pool_client.user_pool_client_id,
            # sla_sweep publishes breach alerts here (the role may Publish, not look topics up).
            "SHOPDESK_ESCALATIONS_TOPIC_ARN": self.escalations_topic.topic_arn,
        }
        return {
            "environment_variables": environment,
            "manage_iam_role": False,
            "iam_role_arn": self.role.role_arn,
            "autogen_policy": False,
            "lambda_memory_size": LAMBDA_MEMORY_MB,
            "lambda_timeout": LAMBDA_TIMEOUT_S,
        }

    def function_name(self, function: ChaliceFunction) -> str:
        return f"{self.names.prefix}-{function.name}"

    def _wire_functions(self) -> dict[str, sqs.Queue]:
        """Fixed names, log groups with retention, on-failure queues for async handlers, one scoped policy."""
        retention = logs.RetentionDays.THREE_MONTHS if self.settings.prod else logs.RetentionDays.TWO_WEEKS
        log_groups: list[logs.LogGroup] = []
        queues: dict[str, sqs.Queue] = {}
        for function in self.functions:
            name = self.function_name(function)
            log_groups.append(logs.LogGroup(self, f"{function.logical_id}Logs", log_group_name=f"/aws/lambda/{name}",
                                            retention=retention, removal_policy=self.removal))
            if function.is_async:
                queue = sqs.Queue(self, f"{function.logical_id}Failures", queue_name=f"{name}-failures",
                                  encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
                                  retention_period=Duration.days(14))
                suppress(queue, "AwsSolutions-SQS3", "This queue is itself the dead-letter destination of the "
                         "Lambda function's asynchronous invocations; an operator redrives it by hand.")
                queues[function.name] = queue
        policy = iam.Policy(self, "FunctionPolicy", roles=[self.role],
                            statements=self._function_statements(log_groups, list(queues.values())))
        self._suppress_scoped_wildcards(policy)
        for function, log_group in zip(self.functions, log_groups, strict=True):
            resource = self.chalice.get_resource(function.logical_id)
            resource.add_property_override("FunctionName", self.function_name(function))
            # The role's policy and the log group exist before the function can run or be configured, and
            # Chalice subscribes to topics by name (an ARN string), which CloudFormation cannot order by itself.
            resource.node.add_dependency(policy, log_group)
            if "SNS" in function.event_types:
                # Only the topics Chalice subscribes to by name; the escalations topic is a Ref already.
                resource.node.add_dependency(self.inbound_email_topic, self.inbound_sms_topic)
            if function.name in queues:
                resource.add_property_override("EventInvokeConfig", {
                    "MaximumRetryAttempts": 2,
                    "MaximumEventAgeInSeconds": 6 * 3600,
                    "DestinationConfig": {"OnFailure": {"Type": "SQS",
                                                        "Destination": queues[function.name].queue_arn}},
                })
        return queues

    def _function_statements(self, log_groups: list[logs.LogGroup],
                             queues: list[sqs.Queue]) -> list[iam.PolicyStatement]:
        """Exactly the calls chalicelib/adapters make, on this stack's resources only."""
        table_arn = self.table.table_arn
        identities = [f"arn:{self.partition}:ses:{self.region}:{self.account}:identity/{domain}"
                      for domain in self.settings.domains]
        statements = [
            iam.PolicyStatement(sid="Tickets", actions=[
                "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query",
                "dynamodb:PutItem", "dynamodb:UpdateItem",  # TransactWriteItems is authorized per Put/Update
                "dynamodb:DeleteItem",  # ... and per Delete (macros, merged messages, replaced SLA report facts)
            ], resources=[table_arn, *(f"{table_arn}/index/{index}" for index in INDEX_KEYS)]),
            iam.PolicyStatement(sid="RawMail", actions=["s3:GetObject", "s3:PutObject"],
                                resources=[self.bucket.arn_for_objects("*")]),
            iam.PolicyStatement(sid="SendMail", actions=["ses:SendRawEmail"], resources=identities),
            iam.PolicyStatement(sid="Escalate", actions=["sns:Publish"],
                                resources=[self.escalations_topic.topic_arn]),
            # Texting a phone number (Publish with PhoneNumber) has no ARN to scope to: IAM's SNS table lists
            # no resource type and no condition key for it, so Resource "*" is the only form that works.
            iam.PolicyStatement(sid=SMS_STATEMENT_SID, actions=["sns:Publish"], resources=["*"]),
            iam.PolicyStatement(sid="EncryptedTopics", actions=["kms:GenerateDataKey", "kms:Decrypt"],
                                resources=[self.topic_key.key_arn]),
            iam.PolicyStatement(sid="Logs", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                                resources=[group.log_group_arn for group in log_groups]),
        ]
        if queues:
            statements.append(iam.PolicyStatement(sid="FailedInvocations", actions=["sqs:SendMessage"],
                                                  resources=[queue.queue_arn for queue in queues]))
        return statements

    def _suppress_scoped_wildcards(self, policy: iam.Policy) -> None:
        bucket = self.get_logical_id(self.bucket.node.default_child)
        suppress(policy, "AwsSolutions-IAM5", "Object keys in the raw-mail bucket are per message (inbound/, "
                 "attachments/, bodies/, quarantine/); the wildcard is limited to this stack's bucket.",
                 applies_to=[f"Resource::<{bucket}.Arn>/*"])
        suppress(policy, "AwsSolutions-IAM5", f"Statement {SMS_STATEMENT_SID}: sns:Publish to a phone number (SMS "
                 "replies and acknowledgements) is only authorized with Resource '*'; SNS offers no phone-number ARN "
                 "or condition key. The statement allows no other action.", applies_to=["Resource::*"])

    # --- observability ------------------------------------------------------------------------------------

    def _alarm(self, construct_id: str, metric: cloudwatch.IMetric, description: str) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self, construct_id, metric=metric, threshold=1, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING, alarm_description=description,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.alarm_topic))
        return alarm

    def _alarms(self) -> None:
        period = Duration.minutes(5)
        for function in self.functions:
            dimensions = {"FunctionName": self.function_name(function)}
            for metric_name in ("Errors", "Throttles"):
                self._alarm(f"{function.logical_id}{metric_name}Alarm", cloudwatch.Metric(
                    namespace="AWS/Lambda", metric_name=metric_name, dimensions_map=dimensions,
                    statistic="Sum", period=period,
                ), f"{self.function_name(function)}: {metric_name.lower()} in the last 5 minutes")
        for name, queue in self.dead_letter_queues.items():
            self._alarm(f"{queue.node.id}Alarm", queue.metric_approximate_number_of_messages_visible(
                period=period, statistic="Maximum",
            ), f"{name}: events that failed every retry are waiting in {queue.node.id}")
        self._alarm("SlaBreachesAlarm", cloudwatch.Metric(
            namespace=NAMESPACE, metric_name="SlaBreaches", dimensions_map={"service": SERVICE},
            statistic="Sum", period=period,
        ), "A ticket broke its SLA promise (emitted by sla_sweep)")

    def _outputs(self) -> None:
        outputs = {
            "SupportAddresses": ", ".join(sorted(self.settings.support_addresses)),
            "MxRecord": f"10 inbound-smtp.{self.region}.amazonaws.com",
            "ReceiptRuleSetName": self.rule_set.receipt_rule_set_name,
            "InboundEmailTopicArn": self.inbound_email_topic.topic_arn,
            "InboundSmsTopicArn": self.inbound_sms_topic.topic_arn,
            "EscalationsTopicArn": self.escalations_topic.topic_arn,
            "AlarmTopicArn": self.alarm_topic.topic_arn,
            "TableName": self.table.table_name,
            "RawMailBucketName": self.bucket.bucket_name,
            "UserPoolId": self.user_pool.user_pool_id,
            "UserPoolClientId": self.user_pool_client.user_pool_client_id,
            "ReplySecretArn": self.reply_secret.secret_arn,
        }
        if any(f.name == "api_handler" for f in self.functions):
            outputs["ApiUrl"] = self.chalice.sam_template.get_output("EndpointURL").value
        for key, value in outputs.items():
            CfnOutput(self, key, value=value)
