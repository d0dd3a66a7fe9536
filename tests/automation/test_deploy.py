"""`automation deploy|remove` in the emulator: deploy converges (twice changes nothing, a
change is updated in place), the plan is what runs, remove deletes exactly ircli's resources
and never the evidence; `list` reads back what ran."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ircli.automation.deploy import AutomationPlan
from ircli.core.errors import NotFound, UserError
from ircli.core.session import AwsSession, AwsSettings
from ircli.ops.automation import apply, list_automations, plan_for_deploy, plan_for_remove
from ircli.runbook.model import FindingPattern, Runbook
from tests.automation.test_template import fake_runbook, handmade

BUCKET = "ir-evidence"
REGION = "us-east-1"
ROLES = ("ircli-web-compromise-us-east-1-sfn", "ircli-web-compromise-us-east-1-events")


@pytest.fixture
def aws(clients: Any) -> AwsSession:
    clients("s3").create_bucket(Bucket=BUCKET)
    return AwsSession(AwsSettings())


def no_sleep(_seconds: float) -> None:
    return None


def deploy(aws: AwsSession, runbook: Runbook | None = None, severity: float = 7,
           compiler: Any = handmade) -> tuple[AutomationPlan, list[str]]:
    plan = plan_for_deploy(aws, runbook or fake_runbook(), severity, BUCKET, compiler=compiler)
    return plan, apply(aws, plan, sleep=no_sleep)


def calls(plan: AutomationPlan) -> list[str]:
    return [c.summary for u in plan.units for c in u.calls]


def world(clients: Any) -> dict[str, Any]:
    """Every ircli resource of the account with its configuration, as AWS reports it."""
    iam, sfn, events, sns = (clients(s) for s in ("iam", "stepfunctions", "events", "sns"))
    found: dict[str, Any] = {"roles": {}, "machines": {}, "rules": {}, "topics": {}}
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        if name.startswith("ircli-"):
            found["roles"][name] = {
                "trust": role["AssumeRolePolicyDocument"],
                "tags": iam.list_role_tags(RoleName=name)["Tags"],
                "policies": {p: iam.get_role_policy(RoleName=name, PolicyName=p)[
                    "PolicyDocument"] for p in iam.list_role_policies(RoleName=name)[
                    "PolicyNames"]}}
    for machine in sfn.list_state_machines()["stateMachines"]:
        described = sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])
        found["machines"][machine["name"]] = {
            "arn": machine["stateMachineArn"], "definition": json.loads(described["definition"]),
            "role": described["roleArn"], "tags": sfn.list_tags_for_resource(
                resourceArn=machine["stateMachineArn"])["tags"]}
    for rule in events.list_rules()["Rules"]:
        found["rules"][rule["Name"]] = {
            "pattern": json.loads(rule["EventPattern"]), "state": rule["State"],
            "targets": events.list_targets_by_rule(Rule=rule["Name"])["Targets"],
            "tags": events.list_tags_for_resource(ResourceARN=rule["Arn"])["Tags"]}
    for topic in sns.list_topics()["Topics"]:
        found["topics"][topic["TopicArn"]] = sns.list_tags_for_resource(
            ResourceArn=topic["TopicArn"])["Tags"]
    sqs = clients("sqs")
    for url in sqs.list_queues().get("QueueUrls", []):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
            "Attributes"]
        found.setdefault("queues", {})[url.rsplit("/", 1)[1]] = {
            "retention": attributes.get("MessageRetentionPeriod"),
            "policy": json.loads(attributes["Policy"]) if "Policy" in attributes else None,
            "tags": sqs.list_queue_tags(QueueUrl=url).get("Tags", {})}
    return found


def test_deploy_creates_everything_tagged_and_wired(aws: AwsSession, clients: Any) -> None:
    plan, done = deploy(aws)
    assert done == calls(plan) and done, "deploy made other calls than its plan"
    now = world(clients)
    tag = {"Key": "ircli:automation", "Value": "web-compromise"}
    assert set(now["roles"]) == set(ROLES)
    assert all(tag in r["tags"] for r in now["roles"].values())
    machine = now["machines"]["ircli-web-compromise"]
    assert {"key": "ircli:automation", "value": "web-compromise"} in machine["tags"]
    assert machine["role"].endswith(":role/ircli-web-compromise-us-east-1-sfn")
    assert machine["definition"]["States"]["Record"]["Parameters"]["Bucket"] == BUCKET
    topic_arn = f"arn:aws:sns:{REGION}:123456789012:ircli-web-compromise-failures"
    assert machine["definition"]["States"]["Notify"]["Parameters"]["TopicArn"] == topic_arn
    assert now["topics"] == {topic_arn: [tag]}
    rule = now["rules"]["ircli-web-compromise"]
    assert rule["state"] == "ENABLED" and tag in rule["tags"]
    assert rule["pattern"]["detail"]["severity"] == [{"numeric": [">=", 7]}]
    assert [(t["Arn"], t["RoleArn"].rsplit("/", 1)[1]) for t in rule["targets"]] == [
        (machine["arn"], "ircli-web-compromise-us-east-1-events")]
    queue_arn = f"arn:aws:sqs:{REGION}:123456789012:ircli-web-compromise-undelivered"
    assert rule["targets"][0]["DeadLetterConfig"] == {"Arn": queue_arn}
    queue = now["queues"]["ircli-web-compromise-undelivered"]
    assert queue["retention"] == "1209600"
    assert queue["tags"] == {"ircli:automation": "web-compromise"}
    (grant,) = queue["policy"]["Statement"]
    assert grant["Condition"] == {"ArnEquals": {"aws:SourceArn": (
        f"arn:aws:events:{REGION}:123456789012:rule/ircli-web-compromise")}}
    start = now["roles"]["ircli-web-compromise-us-east-1-events"]["policies"][
        "ircli-web-compromise"]["Statement"]
    assert start == [{"Sid": "IrcliAutomationStartThisMachine", "Effect": "Allow",
                      "Action": "states:StartExecution", "Resource": machine["arn"]}]
    trust = now["roles"]["ircli-web-compromise-us-east-1-sfn"]["trust"]["Statement"][0]
    assert trust["Condition"]["ArnLike"] == {"aws:SourceArn": machine["arn"]}
    execution = now["roles"]["ircli-web-compromise-us-east-1-sfn"]["policies"][
        "ircli-web-compromise"]["Statement"]
    resources = {a: s["Resource"] for s in execution for a in s["Action"]}
    assert resources["s3:PutObject"] == f"arn:aws:s3:::{BUCKET}/cases/*"
    assert resources["sns:Publish"] == topic_arn


def test_deploy_twice_changes_nothing(aws: AwsSession, clients: Any) -> None:
    deploy(aws)
    before = world(clients)
    again, done = deploy(aws)
    assert done == [] and not again.changes
    assert {u.status for u in again.units} == {"up to date"}
    assert world(clients) == before


def test_the_plan_reads_only_and_is_what_deploy_runs(aws: AwsSession, clients: Any) -> None:
    empty = world(clients)
    first = plan_for_deploy(aws, fake_runbook(), 7, BUCKET, compiler=handmade)
    second = plan_for_deploy(aws, fake_runbook(), 7, BUCKET, compiler=handmade)
    assert world(clients) == empty, "planning changed AWS"
    assert first.to_dict() == second.to_dict()
    assert apply(aws, first, sleep=no_sleep) == calls(second)


def test_a_changed_runbook_is_updated_in_place(aws: AwsSession, clients: Any) -> None:
    deploy(aws)
    before = world(clients)
    _, done = deploy(aws, severity=8)
    assert done == ["update the pattern of EventBridge rule ircli-web-compromise"]

    def other_definition(runbook: Runbook, **kwargs: Any) -> Any:
        compiled = handmade(runbook, **kwargs)
        compiled.definition["States"]["Isolate"]["Retry"][0]["MaxAttempts"] = 9
        return compiled

    _, done = deploy(aws, severity=8, compiler=other_definition)
    assert done == ["update the definition of state machine ircli-web-compromise"]
    after = world(clients)
    machine = after["machines"]["ircli-web-compromise"]
    assert machine["arn"] == before["machines"]["ircli-web-compromise"]["arn"]
    assert machine["definition"]["States"]["Isolate"]["Retry"][0]["MaxAttempts"] == 9
    assert after["rules"]["ircli-web-compromise"]["pattern"]["detail"]["severity"] == [
        {"numeric": [">=", 8]}]
    assert after["roles"] == before["roles"]


def test_an_execution_role_changed_behind_ircli_is_restored(aws: AwsSession,
                                                            clients: Any) -> None:
    """Someone widens the role's policy and trust: the next deploy puts back exactly ircli's."""
    deploy(aws)
    before = world(clients)
    iam = clients("iam")
    name = "ircli-web-compromise-us-east-1-sfn"
    iam.put_role_policy(RoleName=name, PolicyName="ircli-web-compromise", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*",
                                                 "Resource": "*"}]}))
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"AWS": "*"}}]}))
    _, done = deploy(aws)
    assert done == [f"update the trust policy of role {name}",
                    f"put inline policy ircli-web-compromise on role {name}"]
    assert world(clients) == before


def test_remove_leaves_nothing_of_ircli_and_every_case(aws: AwsSession, clients: Any) -> None:
    s3 = clients("s3")
    deploy(aws)
    s3.put_object(Bucket=BUCKET, Key="cases/ir-1/case.json", Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key="cases/ir-1/audit.jsonl", Body=b"{}\n")
    plan = plan_for_remove(aws, "web-compromise")
    done = apply(aws, plan, sleep=no_sleep)
    assert done == calls(plan)
    assert world(clients) == {"roles": {}, "machines": {}, "rules": {}, "topics": {}}, \
        "a role, machine, rule, topic or queue is left"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == ["cases/ir-1/audit.jsonl", "cases/ir-1/case.json"]
    again = plan_for_remove(aws, "web-compromise")
    assert not again.changes and {u.status for u in again.units} == {"absent"}


def test_same_named_resources_that_are_not_ircli_s_are_never_taken_or_removed(
        aws: AwsSession, clients: Any) -> None:
    iam, events = clients("iam"), clients("events")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
        "Action": "sts:AssumeRole"}]})
    iam.create_role(RoleName=ROLES[0], AssumeRolePolicyDocument=trust)
    events.put_rule(Name="ircli-web-compromise", ScheduleExpression="rate(1 hour)")
    with pytest.raises(UserError, match="not ircli's automation"):
        plan_for_deploy(aws, fake_runbook(), 7, BUCKET, compiler=handmade)
    plan = plan_for_remove(aws, "web-compromise")
    assert not plan.changes
    assert {u.unit: u.status for u in plan.units}["execution-role"] == "not ircli's"
    assert iam.get_role(RoleName=ROLES[0])["Role"]["RoleName"] == ROLES[0]
    assert events.describe_rule(Name="ircli-web-compromise")["ScheduleExpression"]


def test_missing_bucket_is_one_error_before_anything_changes(aws: AwsSession,
                                                             clients: Any) -> None:
    with pytest.raises(NotFound, match="does not exist") as err:
        plan_for_deploy(aws, fake_runbook(), 7, "no-such-evidence", compiler=handmade)
    assert "ircli evidence init" in str(err.value.remediation)
    assert world(clients)["roles"] == {}


def test_a_role_not_yet_visible_to_step_functions_is_retried(aws: AwsSession,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """IAM is eventually consistent: CreateStateMachine right after CreateRole may be told the
    role cannot be assumed. Deploy waits (injected sleep) and tries again."""
    sfn = aws.client("stepfunctions")
    real = sfn.create_state_machine
    failures = [ClientError({"Error": {"Code": "AccessDeniedException", "Message": (
        "Neither the global service principal states.amazonaws.com, nor the regional one is "
        "authorized to assume the provided role.")}}, "CreateStateMachine")] * 2

    def flaky(**kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return real(**kwargs)

    monkeypatch.setattr(sfn, "create_state_machine", flaky)
    slept: list[float] = []
    heard: list[str] = []
    plan = plan_for_deploy(aws, fake_runbook(), 7, BUCKET, compiler=handmade)
    apply(aws, plan, sleep=slept.append, progress=heard.append)
    assert len(slept) == 2 and not failures
    assert heard == [f"waiting {slept[0]:.0f} s for IAM to show the new role to Step Functions "
                     "(create state machine ircli-web-compromise; attempt 1 of 8)",
                     f"waiting {slept[1]:.0f} s for IAM to show the new role to Step Functions "
                     "(create state machine ircli-web-compromise; attempt 2 of 8)"]
    assert sfn.list_state_machines()["stateMachines"][0]["name"] == "ircli-web-compromise"


def test_real_access_denied_is_not_retried(aws: AwsSession,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    sns = aws.client("sns")
    calls_made = []

    def denied(**kwargs: Any) -> Any:
        calls_made.append(kwargs)
        raise ClientError({"Error": {"Code": "AuthorizationError", "Message": "denied"}},
                          "CreateTopic")

    monkeypatch.setattr(sns, "create_topic", denied)
    plan = plan_for_deploy(aws, fake_runbook(), 7, BUCKET, compiler=handmade)
    with pytest.raises(ClientError):
        apply(aws, plan, sleep=no_sleep)
    assert len(calls_made) == 1


def test_list_shows_executions_with_target_case_and_type(aws: AwsSession, clients: Any) -> None:
    deploy(aws)
    sfn = clients("stepfunctions")
    arn = world(clients)["machines"]["ircli-web-compromise"]["arn"]
    event = {"source": "aws.guardduty", "detail-type": "GuardDuty Finding",
             "detail": {"id": "f1", "type": "Backdoor:EC2/C&CActivity.B", "severity": 8,
                        "resource": {"resourceType": "Instance",
                                     "instanceDetails": {"instanceId": "i-0abc"}}}}
    named = {**event, "detail": {k: v for k, v in event["detail"].items() if k != "id"}}
    sfn.start_execution(stateMachineArn=arn, name="ir-2026-0042", input=json.dumps(named))
    sfn.start_execution(stateMachineArn=arn, name=str(uuid.uuid4()), input=json.dumps(event))
    # another account's tooling that happens to use the ircli- prefix, without the tag
    sfn.create_state_machine(name="ircli-other", definition=json.dumps(
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/x")
    found = list_automations(aws, executions=5)
    assert [m["runbook"] for m in found] == ["web-compromise"]
    assert found[0]["rule_state"] == "ENABLED"
    runs = {e["name"]: e for e in found[0]["executions"]}
    assert len(runs) == 2
    named = runs["ir-2026-0042"]
    assert named["target"] == "i-0abc" and named["case_id"] == "ir-2026-0042"
    assert named["finding_type"] == "Backdoor:EC2/C&CActivity.B" and named["status"]
    # EventBridge names executions by UUID: the case is the one the machine derives from the
    # finding id (ir-gd-<md5>), as the compiler writes it
    (other,) = (e for n, e in runs.items() if n != "ir-2026-0042")
    assert other["case_id"] == "ir-gd-" + hashlib.md5(b"f1").hexdigest()
    assert other["target"] == "i-0abc"


def test_patterns_eventbridge_cannot_express_fail_before_anything_changes(
        aws: AwsSession, clients: Any) -> None:
    runbook = fake_runbook()
    runbook.finding_types = [FindingPattern("Trojan:EC2/[A-Z]*")]
    with pytest.raises(UserError, match="cannot match"):
        plan_for_deploy(aws, runbook, 7, BUCKET, compiler=handmade)
    assert world(clients)["roles"] == {}


def test_every_call_deploy_list_and_remove_make_is_declared(aws: AwsSession,
                                                            clients: Any) -> None:
    """The units' permissions are the deployer's whole grant: no call outside them (read or
    write), and each one scoped to ircli's names where IAM allows it."""
    from ircli.automation.deploy import deployer_permissions
    from ircli.core.permission import as_permission

    declared = {a for p in deployer_permissions() for a in as_permission(p).action_list}
    prefix = {"stepfunctions": "states"}
    seen: set[str] = set()
    aws.observers.append(lambda call: seen.add(
        f"{prefix.get(call.service, call.service)}:{call.operation}"))
    deploy(aws)
    deploy(aws, severity=8)
    list_automations(aws)
    apply(aws, plan_for_remove(aws, "web-compromise"), sleep=no_sleep)
    # HeadBucket is authorised by s3:ListBucket; GetCallerIdentity needs no permission
    actions = {"s3:ListBucket" if a == "s3:HeadBucket" else a for a in seen} - {
        "sts:GetCallerIdentity"}
    assert {"states:CreateStateMachine", "iam:PutRolePolicy", "events:PutTargets",
            "states:ListExecutions", "sns:DeleteTopic"} <= actions  # the observer saw them
    assert actions - declared == set()
    unscoped = {a for p in deployer_permissions() for a in as_permission(p).action_list
                if as_permission(p).resource_list == ("*",)}
    assert unscoped == {"states:ListStateMachines"}


def test_remove_says_when_executions_are_still_running(aws: AwsSession, clients: Any) -> None:
    deploy(aws)
    sfn = clients("stepfunctions")
    arn = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    sfn.start_execution(stateMachineArn=arn, input="{}")
    plan = plan_for_remove(aws, "web-compromise")
    (machine,) = (u for u in plan.units if u.unit == "state-machine")
    assert machine.status == "remove"
    assert machine.notes == ["1 execution(s) of it are still running (`ircli automation "
                             "list`); their cases stay in the evidence bucket"]


def test_remove_keeps_a_rule_someone_else_also_targets(aws: AwsSession, clients: Any) -> None:
    deploy(aws)
    sqs, events = clients("sqs"), clients("events")
    queue = sqs.create_queue(QueueName="soc-copy")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    events.put_targets(Rule="ircli-web-compromise", Targets=[{"Id": "soc", "Arn": arn}])
    plan = plan_for_remove(aws, "web-compromise")
    apply(aws, plan, sleep=no_sleep)
    statuses = {u.unit: u.status for u in plan.units}
    assert statuses["rule"] == "kept" and statuses["rule-target"] == "remove"
    assert [t["Id"] for t in events.list_targets_by_rule(Rule="ircli-web-compromise")[
        "Targets"]] == ["soc"]
    assert clients("stepfunctions").list_state_machines()["stateMachines"] == []


def test_undelivered_findings_are_shown_and_never_deleted(aws: AwsSession, clients: Any) -> None:
    """EventBridge could not start the machine for a finding: it waits in the dead-letter
    queue. list counts it; remove keeps that queue (and says why) until someone reads it."""
    deploy(aws)
    sqs = clients("sqs")
    url = sqs.get_queue_url(QueueName="ircli-web-compromise-undelivered")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"detail": {"id": "lost-1"}}))
    (found,) = list_automations(aws)
    assert found["undelivered"] == 1
    plan = plan_for_remove(aws, "web-compromise")
    apply(aws, plan, sleep=no_sleep)
    (queue,) = (u for u in plan.units if u.unit == "dead-letter-queue")
    assert queue.status == "kept" and "1 undelivered finding(s)" in queue.notes[0]
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"].find("lost-1") > 0
    remaining = world(clients)
    assert list(remaining["queues"]) == ["ircli-web-compromise-undelivered"]
    assert remaining["machines"] == {} and remaining["roles"] == {}


def _resolve(value: Any, values: dict[str, str]) -> Any:
    """What CloudFormation makes of Ref / Fn::Sub / Fn::GetAtt …Arn, for the values given."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return values[value["Ref"]]
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        text = value["Fn::Sub"]
        for name, filled in values.items():
            text = text.replace("${" + name + "}", filled)
        return text.replace("${!", "${")
    if isinstance(value, dict):
        return {k: _resolve(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, values) for v in value]
    return value


def test_deploy_makes_what_the_template_describes(aws: AwsSession, clients: Any) -> None:
    """The API path and the CloudFormation path are one design: the deployed pattern,
    definition and policies are the template's, resolved for this account and bucket."""
    import yaml

    from ircli.ops.automation import render

    deploy(aws)
    template = yaml.safe_load(render(fake_runbook(), "cloudformation", 7, compiler=handmade))
    now = world(clients)
    machine = now["machines"]["ircli-web-compromise"]
    topic = next(iter(now["topics"]))
    values = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": "123456789012",
              "AWS::URLSuffix": "amazonaws.com", "EvidenceBucket": BUCKET,
              "FailureTopic": topic, "StateMachine": machine["arn"]}
    resources = template["Resources"]
    rule = now["rules"]["ircli-web-compromise"]
    assert rule["pattern"] == resources["Rule"]["Properties"]["EventPattern"]
    substitutions = _resolve(resources["StateMachine"]["Properties"][
        "DefinitionSubstitutions"], values)
    definition = json.dumps(resources["StateMachine"]["Properties"]["Definition"])
    for name, filled in substitutions.items():
        definition = definition.replace("${" + name + "}", filled)
    assert machine["definition"] == json.loads(definition)
    roles = now["roles"]
    for resource, role in (("ExecutionRole", "ircli-web-compromise-us-east-1-sfn"),
                           ("EventsRole", "ircli-web-compromise-us-east-1-events")):
        properties = resources[resource]["Properties"]
        assert roles[role]["policies"]["ircli-web-compromise"] == _resolve(
            properties["Policies"][0]["PolicyDocument"], values), resource
        assert roles[role]["trust"] == _resolve(properties["AssumeRolePolicyDocument"], values)


def test_a_target_someone_slipped_onto_ircli_s_rule_is_reported(aws: AwsSession,
                                                                 clients: Any) -> None:
    """An attacker who may edit the rule adds a target of their own (findings copied out):
    every deploy names it in the plan, and ircli's own target stays as it was."""
    deploy(aws)
    sqs, events = clients("sqs"), clients("events")
    url = sqs.create_queue(QueueName="exfil")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    events.put_targets(Rule="ircli-web-compromise", Targets=[{"Id": "x\x1b[2J", "Arn": arn}])
    plan, done = deploy(aws)
    assert done == []
    (target,) = (u for u in plan.units if u.unit == "rule-target")
    assert target.status == "up to date"
    assert target.notes == [f"rule ircli-web-compromise also sends its findings to targets "
                            f"ircli did not put there: x\x1b[2J ({arn}); check who added them"]


def test_a_policy_someone_attached_to_ircli_s_role_is_reported_and_kept_on_remove(
        aws: AwsSession, clients: Any) -> None:
    """The state machine acts on attacker-written findings: a wider role is worth saying.
    deploy names the foreign policy every run; remove deletes ircli's policy, keeps the role
    that holds someone else's, and says so."""
    deploy(aws)
    iam = clients("iam")
    name = "ircli-web-compromise-us-east-1-sfn"
    admin = iam.create_policy(PolicyName="wide", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*",
                                                "Resource": "*"}]}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=admin)
    plan, done = deploy(aws)
    assert done == []
    (role,) = (u for u in plan.units if u.unit == "execution-role")
    assert role.notes and admin in role.notes[0] and "did not put there" in role.notes[0]
    removal = plan_for_remove(aws, "web-compromise")
    apply(aws, removal, sleep=no_sleep)
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)[
        "AttachedPolicies"]] == [admin]
