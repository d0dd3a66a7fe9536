"""`automation render`: the CloudFormation template passes cfn-lint, is scoped and carries no
account; the ASL is the compiled definition with its deploy-time values."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.api import lint

from ircli.automation.compiler import CompiledRunbook, NotCompilable
from ircli.core.permission import Permission
from ircli.ops.automation import load_runbook, render
from ircli.runbook.library import all_runbooks
from ircli.runbook.model import FindingPattern, Runbook


def handmade(runbook: Runbook, *, partition: str = "aws", bucket: str,
             topic_arn: str) -> CompiledRunbook:
    """A compiled runbook as the compiler makes one: an aws-sdk Task with Retry and Catch,
    scoped actions, a bare S3 action (ircli scopes it to the bucket's cases/)."""
    definition = {
        "StartAt": "Isolate",
        "States": {
            "Isolate": {
                "Type": "Task",
                "Resource": f"arn:{partition}:states:::aws-sdk:ec2:modifyNetworkInterfaceAttribute",
                "Parameters": {"NetworkInterfaceId.$": "$.eni", "Groups.$": "$.groups"},
                "Retry": [{"ErrorEquals": ["Ec2.RequestLimitExceeded"], "MaxAttempts": 5}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Notify"}],
                "Next": "Record"},
            "Record": {
                "Type": "Task", "Resource": f"arn:{partition}:states:::aws-sdk:s3:putObject",
                "Parameters": {"Bucket": bucket, "Key.$": "$.key", "Body.$": "$.record"},
                "End": True},
            "Notify": {
                "Type": "Task", "Resource": f"arn:{partition}:states:::sns:publish",
                "Parameters": {"TopicArn": topic_arn, "Message.$": "$"},
                "Next": "Failed"},
            "Failed": {"Type": "Fail", "Error": "ircli.Failed"},
        },
    }
    actions: list[Permission | str] = [
        Permission("ec2:ModifyNetworkInterfaceAttribute",
                   "arn:{partition}:ec2:*:*:network-interface/*"),
        "ec2:DescribeInstances",
        "s3:PutObject",
        Permission("iam:PutUserPolicy", "arn:{partition}:iam::*:user/${aws:username}",
                   effect="Deny"),
    ]
    return CompiledRunbook(runbook.name, definition, [p.pattern for p in runbook.finding_types],
                           actions, {"EvidenceBucket": bucket, "TopicArn": topic_arn})


def fake_runbook(name: str = "web-compromise") -> Runbook:
    return Runbook(name, Path(f"{name}.yaml"), "file", "Contain a web host.", "instance",
                   [FindingPattern("Backdoor:EC2/*"), FindingPattern("*:Runtime/*"),
                    FindingPattern("UnauthorizedAccess:EC2/SSHBruteForce", "ACTOR")])


def lint_errors(text: str) -> list[str]:
    return [str(m) for m in lint(text, regions=["us-east-1"])]


def resources(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


RECORD_ONLY = """\
name: record-only
description: Open a case for the instance a finding names, recording its state.
target: instance
finding_types:
  - "Backdoor:EC2/*"
  - type: "UnauthorizedAccess:EC2/SSHBruteForce"
    resource_role: ACTOR
steps:
  - dns-resolver-warning
"""


def record_only(directory: Path) -> Runbook:
    """A user runbook the compiler compiles today (the instance preamble, the case, advice)."""
    path = directory / "record-only.yaml"
    path.write_text(RECORD_ONLY)
    return load_runbook(str(path))


@pytest.mark.parametrize("name", [r.name for r in all_runbooks()])
def test_every_shipped_runbook_that_compiles_passes_cfn_lint(name: str) -> None:
    """A shipped runbook the compiler refuses (NotCompilable, naming the step) has no
    template; every other one's template must lint clean."""
    try:
        text = render(load_runbook(name), "cloudformation", 7)
    except NotCompilable:
        return
    assert lint_errors(text) == [], name


def test_a_compiled_user_runbook_passes_cfn_lint_as_yaml_and_json(tmp_path: Path) -> None:
    runbook = record_only(tmp_path)
    assert lint_errors(render(runbook, "cloudformation", 7)) == []
    text = render(runbook, "cloudformation-json", 7)
    assert lint_errors(text) == []
    template = json.loads(text)
    assert template["Resources"]["Rule"]["Type"] == "AWS::Events::Rule"
    assert template["Resources"]["StateMachine"]["Properties"]["Definition"]["States"]


def test_handmade_template_is_lint_clean_least_privilege_and_account_free() -> None:
    text = render(fake_runbook(), "cloudformation", 8, compiler=handmade)
    assert lint_errors(text) == []
    assert not re.search(r"\b\d{12}\b", text), "an account id is written into the template"
    template = yaml.safe_load(text)
    assert set(template["Parameters"]) == {"EvidenceBucket"}

    role = template["Resources"]["ExecutionRole"]["Properties"]
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "states.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    by_action = {a: s for s in statements for a in s["Action"]}
    for statement in statements:
        assert all(a != "*" and not a.endswith(":*") for a in statement["Action"])
    assert by_action["s3:PutObject"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${EvidenceBucket}/cases/*"}
    assert by_action["ec2:ModifyNetworkInterfaceAttribute"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:ec2:*:*:network-interface/*"}
    assert by_action["sns:Publish"]["Resource"] == {"Ref": "FailureTopic"}
    # an IAM policy variable is left to IAM, not taken for a stack value
    assert by_action["iam:PutUserPolicy"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:iam::*:user/${!aws:username}"}
    assert by_action["iam:PutUserPolicy"]["Effect"] == "Deny"

    events = template["Resources"]["EventsRole"]["Properties"]
    assert events["Policies"][0]["PolicyDocument"]["Statement"] == [{
        "Sid": "IrcliAutomationStartThisMachine", "Effect": "Allow",
        "Action": "states:StartExecution", "Resource": {"Ref": "StateMachine"}}]
    assert events["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "events.amazonaws.com"}

    machine = template["Resources"]["StateMachine"]["Properties"]
    assert machine["DefinitionSubstitutions"]["EvidenceBucket"] == {"Ref": "EvidenceBucket"}
    assert machine["DefinitionSubstitutions"]["TopicArn"] == {"Ref": "FailureTopic"}
    states = machine["Definition"]["States"]
    assert states["Record"]["Parameters"]["Bucket"] == "${EvidenceBucket}"
    assert states["Isolate"]["Resource"] == \
        "arn:aws:states:::aws-sdk:ec2:modifyNetworkInterfaceAttribute"
    assert "arn:aws:" not in json.dumps(role), "IAM ARNs must take the stack's AWS::Partition"
    for kind in ("AWS::SNS::Topic", "AWS::IAM::Role", "AWS::StepFunctions::StateMachine"):
        for resource in resources(template, kind).values():
            assert {"Key": "ircli:automation", "Value": "web-compromise"} in \
                resource["Properties"]["Tags"]
    # IAM names are global: a stack set in several regions of one account needs generated ones
    assert not any("RoleName" in r["Properties"]
                   for r in resources(template, "AWS::IAM::Role").values())


def test_the_compiled_ec2_compromise_is_linted() -> None:
    """The lint above is not vacuous: the built-in containment runbook compiles."""
    assert "AWS::StepFunctions::StateMachine" in render(load_runbook("ec2-compromise"),
                                                         "cloudformation", 7)


def test_cfn_lint_checks_the_definition_itself() -> None:
    """The lint is not blind to the state machine: a dangling Next and an unknown state type
    are found."""
    def broken(runbook: Runbook, **kwargs: Any) -> CompiledRunbook:
        compiled = handmade(runbook, **kwargs)
        compiled.definition["States"]["Record"]["Next"] = "Nowhere"
        compiled.definition["States"]["Failed"]["Type"] = "Bogus"
        return compiled

    assert lint_errors(render(fake_runbook(), "cloudformation", compiler=broken))


def test_template_rule_carries_pattern_and_targets_the_machine() -> None:
    template = yaml.safe_load(render(fake_runbook(), "cloudformation", 8, compiler=handmade))
    rule = template["Resources"]["Rule"]["Properties"]
    assert rule["EventPattern"]["source"] == ["aws.guardduty"]
    assert rule["EventPattern"]["detail"]["severity"] == [{"numeric": [">=", 8]}]
    assert rule["Targets"] == [{
        "Id": "ircli-web-compromise", "Arn": {"Ref": "StateMachine"},
        "RoleArn": {"Fn::GetAtt": ["EventsRole", "Arn"]},
        "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
        "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}}]
    # a finding EventBridge cannot deliver waits 14 days; only this rule may put it there
    queue = template["Resources"]["DeadLetterQueue"]["Properties"]
    assert queue["MessageRetentionPeriod"] == 1209600 and queue["SqsManagedSseEnabled"]
    (grant,) = template["Resources"]["DeadLetterQueuePolicy"]["Properties"][
        "PolicyDocument"]["Statement"]
    assert grant["Principal"] == {"Service": "events.amazonaws.com"}
    assert grant["Action"] == "sqs:SendMessage"
    assert grant["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::Sub": (
        "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/"
        "ircli-web-compromise")}


def test_asl_is_the_definition_with_placeholders_or_the_bucket_given() -> None:
    runbook = fake_runbook()
    plain = json.loads(render(runbook, "asl", compiler=handmade))
    assert plain["States"]["Record"]["Parameters"]["Bucket"] == "${EvidenceBucket}"
    assert plain["States"]["Notify"]["Parameters"]["TopicArn"] == "${TopicArn}"
    given = json.loads(render(runbook, "asl", bucket="ir-evidence", compiler=handmade))
    assert given["States"]["Record"]["Parameters"]["Bucket"] == "ir-evidence"


def test_a_pattern_eventbridge_cannot_match_is_refused() -> None:
    from ircli.core.errors import UserError

    runbook = fake_runbook()
    runbook.finding_types = [FindingPattern("Backdoor:EC2/C&CActivity.?")]
    with pytest.raises(UserError, match="cannot match"):
        render(runbook, "cloudformation", compiler=handmade)
