"""A compiled runbook as one CloudFormation template, ready for StackSets: the state machine,
its execution role (least privilege from the compiled runbook's actions), the EventBridge rule
and its target role, the SNS topic that hears of failures, and the dead-letter queue that keeps
a finding the rule could not deliver.

No account id, region or partition is written in: ARNs are built from the ``AWS::AccountId``,
``AWS::Region``, ``AWS::Partition`` and ``AWS::URLSuffix`` pseudo-parameters, and the
evidence bucket is a stack parameter. IAM roles get names CloudFormation generates (a stack
set deploys the same template to many regions of one account; IAM names are global).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from typing import Any

from ircli.automation.compiler import CompiledRunbook
from ircli.automation.rule import event_pattern
from ircli.catalog.policy import policy_for
from ircli.core.permission import Permission, PermissionLike
from ircli.runbook.model import FindingPattern

TAG_KEY = "ircli:automation"
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"

# The placeholders the compiler is given when the values are only known at deploy time;
# CloudFormation (DefinitionSubstitutions, Fn::Sub) fills them in. PARTITION_VAR is for the
# IAM policies only (Fn::Sub ${AWS::Partition}).
BUCKET_VAR = "${EvidenceBucket}"
TOPIC_VAR = "${TopicArn}"
PARTITION_VAR = "${Partition}"

# Step Functions, EventBridge: the service principals (the same in every partition).
STATES_PRINCIPAL = "states.amazonaws.com"
EVENTS_PRINCIPAL = "events.amazonaws.com"


@dataclass(frozen=True)
class Names:
    """What ircli calls the resources of one runbook's automation in one region."""

    runbook: str
    region: str

    @property
    def state_machine(self) -> str:
        return f"ircli-{self.runbook}"

    @property
    def rule(self) -> str:
        return f"ircli-{self.runbook}"

    @property
    def topic(self) -> str:
        return f"ircli-{self.runbook}-failures"

    @property
    def execution_role(self) -> str:
        return _role_name(f"ircli-{self.runbook}-{self.region}-sfn")

    @property
    def events_role(self) -> str:
        return _role_name(f"ircli-{self.runbook}-{self.region}-events")

    @property
    def dead_letter_queue(self) -> str:
        return f"ircli-{self.runbook}-undelivered"

    @property
    def policy(self) -> str:
        return f"ircli-{self.runbook}"

    @property
    def target_id(self) -> str:
        return f"ircli-{self.runbook}"[:64]


def _role_name(name: str) -> str:
    """IAM role names are at most 64 characters: a long one keeps its start and a hash."""
    if len(name) <= 64:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:55]}-{digest}"


def states_trust(account: str, state_machine_arn: str) -> dict[str, Any]:
    """Only Step Functions, for this account's machine of this name, may assume the role."""
    return _trust(STATES_PRINCIPAL, account, state_machine_arn)


def events_trust(account: str, rule_arn: str) -> dict[str, Any]:
    return _trust(EVENTS_PRINCIPAL, account, rule_arn)


def _trust(service: str, account: Any, source_arn: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account},
                      "ArnLike": {"aws:SourceArn": source_arn}}}]}


def execution_actions(compiled: CompiledRunbook, topic_arn: str) -> list[PermissionLike]:
    """What the state machine's role may do: the compiled runbook's actions, and publishing
    its failures to its own topic. The topic's ARN becomes the ``{topic}`` template, so the
    statements (and their Sids) are the same whether the ARN is known or a stack's."""
    def templated(value: PermissionLike) -> PermissionLike:
        if isinstance(value, str) or topic_arn not in value.resource_list:
            return value
        resources = tuple("{topic}" if r == topic_arn else r for r in value.resource_list)
        return replace(value, resources=resources[0] if len(resources) == 1 else resources)

    return [*(templated(p) for p in compiled.actions), Permission("sns:Publish", "{topic}")]


def execution_policy(compiled: CompiledRunbook, *, partition: str, dns_suffix: str,
                     bucket: str, topic_arn: str) -> dict[str, Any]:
    return policy_for(execution_actions(compiled, topic_arn), label="automation",
                      values={"partition": partition, "dns_suffix": dns_suffix,
                              "bucket": bucket, "topic": topic_arn})


# EventBridge's own retry of a target it cannot reach (its defaults, written out), then the
# finding goes to the dead-letter queue, kept 14 days (SQS's longest), so none is lost.
RETRY_POLICY = {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
DEAD_LETTER_RETENTION = 1209600


def dead_letter_policy(queue_arn: Any, rule_arn: Any) -> dict[str, Any]:
    """Only EventBridge, for this rule, may put undelivered findings in the queue."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "IrcliAutomationUndeliveredFindings", "Effect": "Allow",
        "Principal": {"Service": EVENTS_PRINCIPAL}, "Action": "sqs:SendMessage",
        "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}]}


def start_policy(state_machine_arn: Any) -> dict[str, Any]:
    """The rule's target role: start executions of this one state machine, nothing else."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "IrcliAutomationStartThisMachine", "Effect": "Allow",
        "Action": "states:StartExecution", "Resource": state_machine_arn}]}


# -- CloudFormation -------------------------------------------------------------------------
_KNOWN_VARS = {"EvidenceBucket", "TopicArn"}
_CFN_VAR = re.compile(r"\$\{(?!AWS::|EvidenceBucket\}|TopicArn\}|Partition\}|FailureTopic\})")


def _sub(value: Any) -> Any:
    """Strings holding ``${...}`` become ``Fn::Sub``; IAM policy variables (``${aws:...}``)
    are escaped (``${!aws:...}``) so CloudFormation leaves them to IAM."""
    if isinstance(value, str):
        if "${" not in value:
            return value
        escaped = _CFN_VAR.sub("${!", value)
        if escaped == value.replace("${", "${!"):  # only IAM variables: nothing to substitute
            return value
        escaped = escaped.replace(PARTITION_VAR, "${AWS::Partition}")
        whole = re.fullmatch(r"\$\{([A-Za-z0-9:]+)\}", escaped)
        return {"Ref": whole.group(1)} if whole else {"Fn::Sub": escaped}
    if isinstance(value, dict):
        return {k: _sub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sub(v) for v in value]
    return value


def cloudformation_template(compiled: CompiledRunbook,
                            finding_types: list[FindingPattern | str],
                            min_severity: float, description: str = "") -> dict[str, Any]:
    """The template. ``compiled`` was compiled with :data:`BUCKET_VAR` and :data:`TOPIC_VAR`
    for the values the stack decides (DefinitionSubstitutions fills them), and for one
    partition: the Task states' ARNs name it, as an organisation's stack sets never leave
    theirs (cfn-lint then checks the definition as AWS will read it). The roles' policies
    take the stack's own partition."""
    name = compiled.name
    names = Names(name, "${AWS::Region}")
    tags = [{"Key": TAG_KEY, "Value": name}]
    machine_arn = {"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
                              f":stateMachine:{names.state_machine}"}
    rule_arn = {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}"
                           f":rule/{names.rule}"}
    policy = execution_policy(compiled, partition=PARTITION_VAR, dns_suffix="${AWS::URLSuffix}",
                              bucket=BUCKET_VAR, topic_arn=TOPIC_VAR)
    policy = _sub(json.loads(json.dumps(policy).replace(TOPIC_VAR, "${FailureTopic}")))
    parameters: dict[str, Any] = {
        "EvidenceBucket": {
            "Type": "String", "AllowedPattern": BUCKET_PATTERN,
            "Description": "The evidence bucket (`ircli evidence init`) the runbook's cases "
                           "are written to, under cases/."}}
    substitutions: dict[str, Any] = {"EvidenceBucket": {"Ref": "EvidenceBucket"},
                                     "TopicArn": {"Ref": "FailureTopic"}}
    for key, meaning in sorted(compiled.parameters.items()):
        if key in _KNOWN_VARS:
            continue
        parameters[key] = {"Type": "String", "Description": str(meaning)[:4000]}
        substitutions[key] = {"Ref": key}
    resources: dict[str, Any] = {
        "FailureTopic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": names.topic, "Tags": tags,
                           "DisplayName": f"ircli {name} failures"[:100]}},
        "ExecutionRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": f"ircli automation {name}: the state machine's own calls",
                "AssumeRolePolicyDocument": _trust(
                    STATES_PRINCIPAL, {"Ref": "AWS::AccountId"}, machine_arn),
                "Policies": [{"PolicyName": names.policy, "PolicyDocument": policy}],
                "Tags": tags}},
        "StateMachine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "StateMachineName": names.state_machine, "StateMachineType": "STANDARD",
                "RoleArn": {"Fn::GetAtt": ["ExecutionRole", "Arn"]},
                "Definition": compiled.definition,
                "DefinitionSubstitutions": substitutions, "Tags": tags}},
        "EventsRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": f"ircli automation {name}: EventBridge starts the state machine",
                "AssumeRolePolicyDocument": _trust(
                    EVENTS_PRINCIPAL, {"Ref": "AWS::AccountId"}, rule_arn),
                "Policies": [{"PolicyName": names.policy,
                              "PolicyDocument": start_policy({"Ref": "StateMachine"})}],
                "Tags": tags}},
        "DeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {"QueueName": names.dead_letter_queue,
                           "MessageRetentionPeriod": DEAD_LETTER_RETENTION,
                           "SqsManagedSseEnabled": True, "Tags": tags}},
        "DeadLetterQueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {"Queues": [{"Ref": "DeadLetterQueue"}],
                           "PolicyDocument": dead_letter_policy(
                               {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}, rule_arn)}},
        "Rule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Name": names.rule,
                "Description": f"GuardDuty findings for the ircli runbook {name}"[:512],
                "EventPattern": event_pattern(finding_types, min_severity),
                "State": "ENABLED",
                "Targets": [{"Id": names.target_id, "Arn": {"Ref": "StateMachine"},
                             "RoleArn": {"Fn::GetAtt": ["EventsRole", "Arn"]},
                             "RetryPolicy": RETRY_POLICY,
                             "DeadLetterConfig": {
                                 "Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}}]}},
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (f"ircli automation: the runbook {name} on Step Functions, started by "
                        f"GuardDuty findings of severity {min_severity:g} or more. "
                        f"{description}").strip()[:1024],
        "Parameters": parameters,
        "Resources": resources,
        "Outputs": {
            "StateMachineArn": {"Value": {"Ref": "StateMachine"}},
            "RuleArn": {"Value": {"Fn::GetAtt": ["Rule", "Arn"]}},
            "FailureTopicArn": {"Value": {"Ref": "FailureTopic"}},
            "DeadLetterQueueUrl": {"Value": {"Ref": "DeadLetterQueue"}},
        },
    }


def render_yaml(template: dict[str, Any]) -> str:
    """YAML without anchors and aliases (CloudFormation refuses them)."""
    import yaml

    class NoAliases(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        """A multi-line string (the definition) as a literal block, readable as JSON."""
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    NoAliases.add_representer(str, text)

    return str(yaml.dump(template, Dumper=NoAliases, sort_keys=False, width=100,
                         allow_unicode=False))
