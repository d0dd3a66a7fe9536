"""The units of every deployment, in the order deploy applies them: the failure topic, the
state machine's role, the state machine, the rule's role, the dead-letter queue, the rule and
its target. Each finds its resource by its fixed name and owns it only when it carries the tag
``ircli:automation=<runbook>``.
"""

from __future__ import annotations

from typing import Any

from ircli.automation.template import (
    DEAD_LETTER_RETENTION,
    RETRY_POLICY,
    TAG_KEY,
    dead_letter_policy,
    events_trust,
    start_policy,
    states_trust,
)
from ircli.automation.unit import (
    IRCLI_EXECUTIONS,
    IRCLI_MACHINES,
    IRCLI_QUEUES,
    IRCLI_ROLES,
    IRCLI_RULES,
    IRCLI_TOPICS,
    DeploySpec,
    Target,
    Unit,
    UnitPlan,
    register,
)
from ircli.automation.unit import compact as _compact
from ircli.automation.unit import not_ours as _not_ours
from ircli.automation.unit import owned as _owned
from ircli.automation.unit import same as _same
from ircli.core.awserrors import error_code
from ircli.core.permission import Permission
from ircli.core.session import AwsSession
from ircli.core.step import Call


@register
class FailureTopic(Unit):
    name = "failure-topic"
    title = "SNS topic for failures"
    permissions = (Permission(("sns:CreateTopic", "sns:TagResource", "sns:GetTopicAttributes",
                               "sns:ListTagsForResource", "sns:DeleteTopic"), IRCLI_TOPICS),)

    def resource(self, target: Target) -> str:
        return target.topic_arn

    def _state(self, aws: AwsSession, target: Target) -> bool | None:
        """None: absent; True: ircli's; False: someone else's."""
        sns = aws.client("sns")
        try:
            sns.get_topic_attributes(TopicArn=target.topic_arn)
        except Exception as err:
            if error_code(err) in ("NotFound", "NotFoundException"):
                return None
            raise
        tags = sns.list_tags_for_resource(ResourceArn=target.topic_arn).get("Tags", [])
        return _owned(tags, target.runbook)

    def plan_deploy(self, aws: AwsSession, spec: DeploySpec) -> UnitPlan:
        t = spec.target
        state = self._state(aws, t)
        if state is False:
            raise _not_ours(t, "topic", t.names.topic)
        if state:
            return self._plan(t, "up to date")
        return self._plan(t, "create", [Call("sns", "create_topic", {
            "Name": t.names.topic, "Tags": t.tags}, f"create SNS topic {t.names.topic}")])

    def plan_remove(self, aws: AwsSession, target: Target) -> UnitPlan:
        state = self._state(aws, target)
        if state is None:
            return self._plan(target, "absent")
        if not state:
            return self._plan(target, "not ircli's", notes=[
                f"{target.names.topic} lacks the tag {TAG_KEY}={target.runbook}: left alone"])
        return self._plan(target, "remove", [Call("sns", "delete_topic", {
            "TopicArn": target.topic_arn}, f"delete SNS topic {target.names.topic}")])


class _Role(Unit):
    """An IAM role with one inline policy, both as the deployment needs them."""

    permissions = (
        Permission(("iam:GetRole", "iam:CreateRole", "iam:TagRole", "iam:ListRoleTags",
                    "iam:UpdateAssumeRolePolicy", "iam:GetRolePolicy", "iam:PutRolePolicy",
                    "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
                    "iam:DeleteRolePolicy", "iam:DeleteRole"), IRCLI_ROLES),)

    def role_name(self, target: Target) -> str:
        raise NotImplementedError

    def trust(self, target: Target) -> dict[str, Any]:
        raise NotImplementedError

    def policy(self, spec: DeploySpec) -> dict[str, Any]:
        raise NotImplementedError

    def resource(self, target: Target) -> str:
        return target.role_arn(self.role_name(target))

    def _role(self, aws: AwsSession, target: Target) -> dict[str, Any] | None:
        iam = aws.client("iam")
        try:
            role: dict[str, Any] = iam.get_role(RoleName=self.role_name(target))["Role"]
        except Exception as err:
            if error_code(err) == "NoSuchEntity":
                return None
            raise
        role["Tags"] = iam.list_role_tags(RoleName=self.role_name(target)).get("Tags", [])
        return role

    def _policy(self, aws: AwsSession, target: Target) -> Any:
        try:
            return aws.client("iam").get_role_policy(
                RoleName=self.role_name(target), PolicyName=target.names.policy
            )["PolicyDocument"]
        except Exception as err:
            if error_code(err) == "NoSuchEntity":
                return None
            raise

    def plan_deploy(self, aws: AwsSession, spec: DeploySpec) -> UnitPlan:
        t = spec.target
        name, trust, policy = self.role_name(t), self.trust(t), self.policy(spec)
        put_policy = Call("iam", "put_role_policy", {
            "RoleName": name, "PolicyName": t.names.policy, "PolicyDocument": _compact(policy)},
            f"put inline policy {t.names.policy} on role {name}")
        role = self._role(aws, t)
        if role is None:
            return self._plan(t, "create", [Call("iam", "create_role", {
                "RoleName": name, "AssumeRolePolicyDocument": _compact(trust),
                "Description": f"ircli automation {t.runbook}: {self.title}"[:1000],
                "Tags": t.tags}, f"create IAM role {name}"), put_policy])
        if not _owned(role["Tags"], t.runbook):
            raise _not_ours(t, "role", name)
        calls = []
        if not _same(role.get("AssumeRolePolicyDocument"), trust):
            calls.append(Call("iam", "update_assume_role_policy", {
                "RoleName": name, "PolicyDocument": _compact(trust)},
                f"update the trust policy of role {name}"))
        if not _same(self._policy(aws, t), policy):
            calls.append(put_policy)
        others = self._other_policies(aws, t)
        notes = [f"role {name} also holds policies ircli did not put there "
                 f"({', '.join(others)}): what it may do is more than the runbook needs; "
                 "check who added them"] if others else []
        return self._plan(t, "update" if calls else "up to date", calls, notes)

    def _other_policies(self, aws: AwsSession, target: Target) -> list[str]:
        """Inline and attached policies of the role that are not ircli's."""
        iam, name = aws.client("iam"), self.role_name(target)
        inline = [p for page in iam.get_paginator("list_role_policies").paginate(RoleName=name)
                  for p in page["PolicyNames"] if p != target.names.policy]
        attached = [p["PolicyArn"] for page in iam.get_paginator(
            "list_attached_role_policies").paginate(RoleName=name)
            for p in page["AttachedPolicies"]]
        return [*inline, *attached]

    def plan_remove(self, aws: AwsSession, target: Target) -> UnitPlan:
        name = self.role_name(target)
        role = self._role(aws, target)
        if role is None:
            return self._plan(target, "absent")
        if not _owned(role["Tags"], target.runbook):
            return self._plan(target, "not ircli's", notes=[
                f"role {name} lacks the tag {TAG_KEY}={target.runbook}: left alone"])
        calls = []
        if self._policy(aws, target) is not None:
            calls.append(Call("iam", "delete_role_policy", {
                "RoleName": name, "PolicyName": target.names.policy},
                f"delete inline policy {target.names.policy} of role {name}"))
        others = self._other_policies(aws, target)
        if others:
            return self._plan(target, "remove", calls, [
                f"role {name} also holds policies ircli did not put there "
                f"({', '.join(others)}): the role is left"])
        calls.append(Call("iam", "delete_role", {"RoleName": name}, f"delete IAM role {name}"))
        return self._plan(target, "remove", calls)


@register
class ExecutionRole(_Role):
    name = "execution-role"
    title = "Execution role of the state machine"

    def role_name(self, target: Target) -> str:
        return target.names.execution_role

    def trust(self, target: Target) -> dict[str, Any]:
        return states_trust(target.account, target.state_machine_arn)

    def policy(self, spec: DeploySpec) -> dict[str, Any]:
        return spec.execution_policy


# Step Functions checks that it may assume the role when the machine is created or updated;
# a role made a moment ago may not be visible to it yet (IAM is eventually consistent).
_ROLE_NOT_YET = ("AccessDeniedException", "InvalidArn", "InvalidParameterValueException")


def role_propagating(err: BaseException) -> bool:
    return error_code(err) in _ROLE_NOT_YET and "assume" in str(err).lower()


@register
class StateMachine(Unit):
    name = "state-machine"
    title = "Step Functions state machine"
    permissions = (
        Permission(("states:DescribeStateMachine", "states:CreateStateMachine",
                    "states:UpdateStateMachine", "states:TagResource",
                    "states:ListTagsForResource", "states:DeleteStateMachine",
                    "states:ListExecutions"), IRCLI_MACHINES),
        Permission("states:DescribeExecution", IRCLI_EXECUTIONS),
        Permission("states:ListStateMachines"),  # not scoped by resource in IAM
        Permission("iam:PassRole", IRCLI_ROLES,
                   {"StringEquals": {"iam:PassedToService": "states.{dns_suffix}"}}),
    )

    def resource(self, target: Target) -> str:
        return target.state_machine_arn

    def _machine(self, aws: AwsSession, target: Target) -> dict[str, Any] | None:
        sfn = aws.client("stepfunctions")
        try:
            found: dict[str, Any] = sfn.describe_state_machine(
                stateMachineArn=target.state_machine_arn)
        except Exception as err:
            if error_code(err) == "StateMachineDoesNotExist":
                return None
            raise
        found["tags"] = sfn.list_tags_for_resource(
            resourceArn=target.state_machine_arn).get("tags", [])
        return found

    def plan_deploy(self, aws: AwsSession, spec: DeploySpec) -> UnitPlan:
        t = spec.target
        role = t.role_arn(t.names.execution_role)
        machine = self._machine(aws, t)
        if machine is None:
            return self._plan(t, "create", [Call("stepfunctions", "create_state_machine", {
                "name": t.names.state_machine, "definition": _compact(spec.definition),
                "roleArn": role, "type": "STANDARD",
                "tags": [{"key": TAG_KEY, "value": t.runbook}]},
                f"create state machine {t.names.state_machine}")])
        if not _owned(machine["tags"], t.runbook, "key", "value"):
            raise _not_ours(t, "state machine", t.names.state_machine)
        changed = [what for what, same in (
            ("definition", _same(machine.get("definition"), spec.definition)),
            ("role", machine.get("roleArn") == role)) if not same]
        if not changed:
            return self._plan(t, "up to date")
        return self._plan(t, "update", [Call("stepfunctions", "update_state_machine", {
            "stateMachineArn": t.state_machine_arn, "definition": _compact(spec.definition),
            "roleArn": role}, f"update the {' and '.join(changed)} of state machine "
                              f"{t.names.state_machine}")])

    def plan_remove(self, aws: AwsSession, target: Target) -> UnitPlan:
        machine = self._machine(aws, target)
        if machine is None:
            return self._plan(target, "absent")
        if not _owned(machine["tags"], target.runbook, "key", "value"):
            return self._plan(target, "not ircli's", notes=[
                f"state machine {target.names.state_machine} lacks the tag "
                f"{TAG_KEY}={target.runbook}: left alone"])
        running = aws.client("stepfunctions").list_executions(
            stateMachineArn=target.state_machine_arn, statusFilter="RUNNING",
            maxResults=100).get("executions", [])
        notes = [f"{len(running)} execution(s) of it are still running (`ircli automation "
                 "list`); their cases stay in the evidence bucket"] if running else []
        return self._plan(target, "remove", notes=notes, calls=[Call(
            "stepfunctions", "delete_state_machine",
            {"stateMachineArn": target.state_machine_arn},
            f"delete state machine {target.names.state_machine} (its cases stay in the "
            "evidence bucket)")])


@register
class EventsRole(_Role):
    name = "events-role"
    title = "Rule role (may start this state machine only)"

    def role_name(self, target: Target) -> str:
        return target.names.events_role

    def trust(self, target: Target) -> dict[str, Any]:
        return events_trust(target.account, target.rule_arn)

    def policy(self, spec: DeploySpec) -> dict[str, Any]:
        return start_policy(spec.target.state_machine_arn)


@register
class DeadLetterQueue(Unit):
    name = "dead-letter-queue"
    title = "Queue of findings the rule could not deliver"
    permissions = (Permission(("sqs:GetQueueUrl", "sqs:CreateQueue", "sqs:TagQueue",
                               "sqs:ListQueueTags", "sqs:GetQueueAttributes",
                               "sqs:SetQueueAttributes", "sqs:DeleteQueue"), IRCLI_QUEUES),)

    def resource(self, target: Target) -> str:
        return target.queue_arn

    def _queue(self, aws: AwsSession, target: Target) -> tuple[str, dict[str, Any]] | None:
        """The queue's URL and attributes (with its tags under ``Tags``), None when absent."""
        sqs = aws.client("sqs")
        try:
            url = str(sqs.get_queue_url(QueueName=target.names.dead_letter_queue)["QueueUrl"])
        except Exception as err:
            if error_code(err) in ("AWS.SimpleQueueService.NonExistentQueue",
                                   "QueueDoesNotExist"):
                return None
            raise
        attributes: dict[str, Any] = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["All"]).get("Attributes", {})
        attributes["Tags"] = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
        return url, attributes

    def _wanted(self, target: Target) -> dict[str, str]:
        return {"MessageRetentionPeriod": str(DEAD_LETTER_RETENTION),
                "SqsManagedSseEnabled": "true",
                "Policy": _compact(dead_letter_policy(target.queue_arn, target.rule_arn))}

    def plan_deploy(self, aws: AwsSession, spec: DeploySpec) -> UnitPlan:
        t = spec.target
        wanted = self._wanted(t)
        found = self._queue(aws, t)
        if found is None:
            return self._plan(t, "create", [Call("sqs", "create_queue", {
                "QueueName": t.names.dead_letter_queue, "Attributes": wanted,
                "tags": {TAG_KEY: t.runbook}},
                f"create SQS queue {t.names.dead_letter_queue} for undelivered findings")])
        url, attributes = found
        if attributes["Tags"].get(TAG_KEY) != t.runbook:
            raise _not_ours(t, "queue", t.names.dead_letter_queue)
        changed = {k: v for k, v in wanted.items()
                   if not (_same(attributes.get(k), v) if k == "Policy"
                           else str(attributes.get(k)).lower() == v.lower())}
        if not changed:
            return self._plan(t, "up to date")
        return self._plan(t, "update", [Call("sqs", "set_queue_attributes", {
            "QueueUrl": url, "Attributes": changed},
            f"set {', '.join(sorted(changed))} of SQS queue {t.names.dead_letter_queue}")])

    def plan_remove(self, aws: AwsSession, target: Target) -> UnitPlan:
        found = self._queue(aws, target)
        if found is None:
            return self._plan(target, "absent")
        url, attributes = found
        if attributes["Tags"].get(TAG_KEY) != target.runbook:
            return self._plan(target, "not ircli's", notes=[
                f"queue {target.names.dead_letter_queue} lacks the tag "
                f"{TAG_KEY}={target.runbook}: left alone"])
        waiting = sum(int(attributes.get(k, 0) or 0) for k in (
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"))
        if waiting:
            return self._plan(target, "kept", notes=[
                f"{waiting} undelivered finding(s) wait in {target.names.dead_letter_queue}: "
                "read them (they were never acted on), then run remove again"])
        return self._plan(target, "remove", [Call("sqs", "delete_queue", {"QueueUrl": url},
                                                  f"delete SQS queue "
                                                  f"{target.names.dead_letter_queue}")])


@register
class Rule(Unit):
    name = "rule"
    title = "EventBridge rule for GuardDuty findings"
    permissions = (Permission(("events:DescribeRule", "events:PutRule", "events:TagResource",
                               "events:ListTagsForResource", "events:DeleteRule"),
                              IRCLI_RULES),)

    def resource(self, target: Target) -> str:
        return target.rule_arn

    def _rule(self, aws: AwsSession, target: Target) -> dict[str, Any] | None:
        events = aws.client("events")
        try:
            rule: dict[str, Any] = events.describe_rule(Name=target.names.rule)
        except Exception as err:
            if error_code(err) == "ResourceNotFoundException":
                return None
            raise
        rule["Tags"] = events.list_tags_for_resource(ResourceARN=target.rule_arn).get(
            "Tags", [])
        return rule

    def plan_deploy(self, aws: AwsSession, spec: DeploySpec) -> UnitPlan:
        t = spec.target
        description = f"GuardDuty findings for the ircli runbook {t.runbook}"[:512]
        params: dict[str, Any] = {"Name": t.names.rule, "EventPattern": _compact(
            spec.event_pattern), "State": "ENABLED", "Description": description}
        rule = self._rule(aws, t)
        if rule is None:
            return self._plan(t, "create", [Call("events", "put_rule", {
                **params, "Tags": t.tags}, f"create EventBridge rule {t.names.rule}")])
        if not _owned(rule["Tags"], t.runbook):
            raise _not_ours(t, "rule", t.names.rule)
        changed = [what for what, same in (
            ("pattern", _same(rule.get("EventPattern"), spec.event_pattern)),
            ("state", rule.get("State") == "ENABLED"),
            ("description", rule.get("Description") == description)) if not same]
        if not changed:
            return self._plan(t, "up to date")
        return self._plan(t, "update", [Call("events", "put_rule", params,
                                             f"update the {' and '.join(changed)} of "
                                             f"EventBridge rule {t.names.rule}")])

    def plan_remove(self, aws: AwsSession, target: Target) -> UnitPlan:
        rule = self._rule(aws, target)
        if rule is None:
            return self._plan(target, "absent")
        if not _owned(rule["Tags"], target.runbook):
            return self._plan(target, "not ircli's", notes=[
                f"rule {target.names.rule} lacks the tag {TAG_KEY}={target.runbook}: left "
                "alone"])
        others = [t["Id"] for t in _targets(aws, target) if t["Id"] != target.names.target_id]
        if others:
            return self._plan(target, "kept", notes=[
                f"rule {target.names.rule} has targets ircli did not put there "
                f"({', '.join(others)}): the rule is left"])
        return self._plan(target, "remove", [Call("events", "delete_rule", {
            "Name": target.names.rule}, f"delete EventBridge rule {target.names.rule}")])


def _targets(aws: AwsSession, target: Target) -> list[dict[str, Any]]:
    events = aws.client("events")
    try:
        return [t for page in events.get_paginator("list_targets_by_rule").paginate(
            Rule=target.names.rule) for t in page["Targets"]]
    except Exception as err:
        if error_code(err) == "ResourceNotFoundException":
            return []
        raise


@register
class RuleTarget(Unit):
    name = "rule-target"
    title = "Rule target (the state machine)"
    permissions = (
        Permission(("events:PutTargets", "events:RemoveTargets", "events:ListTargetsByRule"),
                   IRCLI_RULES),
        Permission("iam:PassRole", IRCLI_ROLES,
                   {"StringEquals": {"iam:PassedToService": "events.{dns_suffix}"}}),
    )

    def resource(self, target: Target) -> str:
        return f"{target.rule_arn} -> {target.state_machine_arn}"

    def plan_deploy(self, aws: AwsSession, spec: DeploySpec) -> UnitPlan:
        t = spec.target
        wanted = {"Id": t.names.target_id, "Arn": t.state_machine_arn,
                  "RoleArn": t.role_arn(t.names.events_role),
                  "RetryPolicy": RETRY_POLICY, "DeadLetterConfig": {"Arn": t.queue_arn}}
        targets = _targets(aws, t)
        found = [x for x in targets if x["Id"] == t.names.target_id]
        # every finding the rule matches also goes to these: say so, every run
        others = [f"{x['Id']} ({x.get('Arn')})" for x in targets
                  if x["Id"] != t.names.target_id]
        notes = [f"rule {t.names.rule} also sends its findings to targets ircli did not put "
                 f"there: {', '.join(others)}; check who added them"] if others else []
        if found and all(found[0].get(k) == v for k, v in wanted.items()):
            return self._plan(t, "up to date", notes=notes)
        return self._plan(t, "update" if found else "create", [Call(
            "events", "put_targets", {"Rule": t.names.rule, "Targets": [wanted]},
            f"point rule {t.names.rule} at state machine {t.names.state_machine}")], notes)

    def plan_remove(self, aws: AwsSession, target: Target) -> UnitPlan:
        if not any(x["Id"] == target.names.target_id for x in _targets(aws, target)):
            return self._plan(target, "absent")
        return self._plan(target, "remove", [Call("events", "remove_targets", {
            "Rule": target.names.rule, "Ids": [target.names.target_id]},
            f"remove the state machine target of rule {target.names.rule}")])

