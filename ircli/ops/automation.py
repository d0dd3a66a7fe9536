"""`ircli automation render|deploy|list|remove`: a runbook compiled to Step Functions, fired
by GuardDuty through EventBridge, as a template or deployed through the API."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from ircli.automation.compiler import CompiledRunbook, compile_runbook
from ircli.automation.deploy import (
    AutomationPlan,
    DeploySpec,
    Progress,
    Sleep,
    Target,
    apply_plan,
    plan_deploy,
    plan_remove,
)
from ircli.automation.rule import check_severity, event_pattern
from ircli.automation.template import (
    BUCKET_VAR,
    TAG_KEY,
    TOPIC_VAR,
    cloudformation_template,
    execution_policy,
    render_yaml,
)
from ircli.core.awserrors import error_code
from ircli.core.case import CASE_ID_PATTERN
from ircli.core.errors import InvalidInput, NotFound, UserError
from ircli.core.session import AwsSession
from ircli.runbook.model import Runbook

Compiler = Callable[..., CompiledRunbook]
DEFAULT_SEVERITY = 7.0
FORMATS = ("asl", "cloudformation", "cloudformation-json")
_RUNBOOK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def load_runbook(name: str, runbooks_dir: str | None = None) -> Runbook:
    """The runbook by name or file, valid (its load errors are the user's to fix)."""
    from ircli.runbook.library import get_runbook

    runbook = get_runbook(name, runbooks_dir)
    runbook.require_valid()
    check_name(runbook.name)
    return runbook


def check_name(name: str) -> str:
    if not _RUNBOOK_NAME.match(name):
        raise InvalidInput(f"The runbook name {name!r} cannot name AWS resources (ircli-NAME).",
                           "Use lower-case letters, digits and dashes, at most 41 characters.")
    return name


def render(runbook: Runbook, fmt: str, severity: float = DEFAULT_SEVERITY, *,
           bucket: str | None = None, topic_arn: str | None = None, partition: str = "aws",
           compiler: Compiler | None = None) -> str:
    """The state machine (ASL JSON) or the CloudFormation template (YAML or JSON).

    ASL carries the deploy-time values given, else the placeholders a template's
    DefinitionSubstitutions fill (``${EvidenceBucket}``, ``${TopicArn}``).
    """
    compiler = compiler or _compiler()
    if fmt not in FORMATS:
        raise InvalidInput(f"Unknown format {fmt!r}.", f"Use one of {', '.join(FORMATS)}.")
    check_severity(severity)
    if fmt == "asl":
        compiled = compiler(runbook, partition=partition, bucket=bucket or BUCKET_VAR,
                            topic_arn=topic_arn or TOPIC_VAR)
        return json.dumps(compiled.definition, indent=2) + "\n"
    compiled = compiler(runbook, partition=partition, bucket=BUCKET_VAR, topic_arn=TOPIC_VAR)
    template = cloudformation_template(compiled, list(runbook.finding_types), severity,
                                       runbook.description)
    if fmt == "cloudformation-json":
        return json.dumps(template, indent=2) + "\n"
    return render_yaml(template)


def _compiler() -> Compiler:
    """The compiler, looked up when used (a test may stand another in)."""
    return compile_runbook


def load_render(name: str, fmt: str, severity: float = DEFAULT_SEVERITY, *,
                bucket: str | None = None, partition: str = "aws",
                runbooks_dir: str | None = None) -> str:
    return render(load_runbook(name, runbooks_dir), fmt, severity, bucket=bucket,
                  partition=partition)


def target_for(aws: AwsSession, runbook: str) -> Target:
    return Target(check_name(runbook), aws.identity()["account"], aws.region, aws.partition)


def check_bucket(aws: AwsSession, bucket: str) -> None:
    """The evidence bucket must exist before a state machine writes cases into it."""
    try:
        aws.client("s3").head_bucket(Bucket=bucket)
    except Exception as err:
        if error_code(err) in ("404", "NoSuchBucket", "NotFound"):
            raise NotFound(f"The evidence bucket {bucket} does not exist in this account.",
                           f"Create it with `ircli evidence init --bucket {bucket}`, or name "
                           "the right one with --evidence-bucket.") from err
        raise


def deploy_spec(aws: AwsSession, runbook: Runbook, severity: float, bucket: str, *,
                compiler: Compiler | None = None) -> DeploySpec:
    """What deploying ``runbook`` here means: compiled for this account, region and bucket."""
    check_severity(severity)
    target = target_for(aws, runbook.name)
    # the real compiler learns the machine's region (a forensics copy needs its own)
    compile_here = compiler or partial(_compiler(), region=target.region)
    compiled = compile_here(runbook, partition=target.partition, bucket=bucket,
                            topic_arn=target.topic_arn)
    policy = execution_policy(compiled, partition=target.partition, dns_suffix=aws.dns_suffix,
                              bucket=bucket, topic_arn=target.topic_arn)
    check_sizes(runbook.name, compiled.definition, policy)
    return DeploySpec(target, compiled.definition, policy,
                      event_pattern(list(runbook.finding_types), severity), runbook.description)


# AWS's limits: a state machine definition (1 MiB), a role's inline policies together
# (10,240 characters, whitespace not counted), a template given as TemplateBody (51,200
# bytes; a larger one goes through S3, up to 1 MB).
MAX_DEFINITION_BYTES = 1024 * 1024
MAX_ROLE_POLICY_CHARS = 10240
MAX_TEMPLATE_BODY = 51200
MAX_TEMPLATE_URL = 1_000_000


def check_sizes(name: str, definition: dict[str, Any], policy: dict[str, Any]) -> None:
    """Refuse before anything is made what AWS would refuse half-way."""
    size = len(json.dumps(definition, separators=(",", ":")).encode())
    if size > MAX_DEFINITION_BYTES:
        raise UserError(f"The compiled {name} is {size} bytes; Step Functions takes a "
                        f"definition of at most {MAX_DEFINITION_BYTES}.",
                        "Split the runbook into smaller ones.")
    chars = len(json.dumps(policy, separators=(",", ":")))
    if chars > MAX_ROLE_POLICY_CHARS:
        raise UserError(f"The execution role's policy for {name} is {chars} characters; IAM "
                        f"takes at most {MAX_ROLE_POLICY_CHARS} of inline policy per role.",
                        "Split the runbook into smaller ones.")


def template_size_note(text: str) -> str | None:
    """What to do with a template too large to pass as a TemplateBody (None: it fits)."""
    size = len(text.encode())
    if size <= MAX_TEMPLATE_BODY:
        return None
    if size > MAX_TEMPLATE_URL:
        raise UserError(f"The template is {size} bytes; CloudFormation takes at most "
                        f"{MAX_TEMPLATE_URL} (from S3).", "Split the runbook into smaller ones.")
    return (f"The template is {size} bytes, more than the {MAX_TEMPLATE_BODY} CloudFormation "
            "takes inline: upload it to S3 and pass its --template-url (StackSets too).")


def plan_for_deploy(aws: AwsSession, runbook: Runbook, severity: float, bucket: str, *,
                    compiler: Compiler | None = None) -> AutomationPlan:
    check_bucket(aws, bucket)
    return plan_deploy(aws, deploy_spec(aws, runbook, severity, bucket, compiler=compiler))


def plan_for_remove(aws: AwsSession, runbook: str) -> AutomationPlan:
    return plan_remove(aws, target_for(aws, runbook))


def deployer_policy(bucket: str | None = None, partition: str = "aws",
                    dns_suffix: str = "amazonaws.com") -> dict[str, Any]:
    """The IAM policy whoever runs deploy, list and remove needs: the units' declarations,
    scoped to ircli's names (``ircli-*``) and, for the bucket check, the evidence bucket."""
    from ircli.automation.deploy import deployer_permissions
    from ircli.catalog.policy import UNSET_BUCKET, policy_for

    return policy_for(deployer_permissions(), label="automation-deploy",
                      values={"partition": partition, "dns_suffix": dns_suffix,
                              "bucket": bucket or UNSET_BUCKET})


def apply(aws: AwsSession, plan: AutomationPlan, sleep: Sleep | None = None,
          progress: Progress | None = None) -> list[str]:
    if sleep is None:
        return apply_plan(aws, plan, progress=progress)
    return apply_plan(aws, plan, sleep=sleep, progress=progress)


# -- list ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Execution:
    name: str
    status: str
    started: str
    target: str | None
    case_id: str | None
    finding_type: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "started": self.started,
                "target": self.target, "case_id": self.case_id,
                "finding_type": self.finding_type}


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _target_of(event: Any) -> str | None:
    """What the finding is about: an instance, else an access key's user, else a bucket."""
    detail = event.get("detail") if isinstance(event, dict) else None
    resource = detail.get("resource") if isinstance(detail, dict) else None
    if not isinstance(resource, dict):
        return None
    for path in (("instanceDetails", "instanceId"), ("accessKeyDetails", "userName")):
        value: Any = resource
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str):
            return value
    buckets = resource.get("s3BucketDetails")
    if isinstance(buckets, list) and buckets and isinstance(buckets[0], dict):
        name = buckets[0].get("name")
        return name if isinstance(name, str) else None
    kind = resource.get("resourceType")
    return kind if isinstance(kind, str) else None


def case_id_of(name: str, event: Any, output: Any) -> str | None:
    """The case an execution opened: from its output or input (``case_id``), else the one
    the compiled machine derives from the finding id (``ir-gd-<md5 of detail.id>``, see
    :mod:`ircli.automation.compiler`), else its name when that is not the UUID EventBridge
    gives every execution it starts."""
    for document in (output, event):
        if isinstance(document, dict):
            for key in ("case_id", "caseId"):
                value = document.get(key)
                if isinstance(value, str) and CASE_ID_PATTERN.match(value):
                    return value
    detail = event.get("detail") if isinstance(event, dict) else None
    finding = detail.get("id") if isinstance(detail, dict) else None
    if isinstance(finding, str) and finding:
        return "ir-gd-" + hashlib.md5(finding.encode(), usedforsecurity=False).hexdigest()
    if CASE_ID_PATTERN.match(name) and not _UUID.match(name):
        return name
    return None


def list_automations(aws: AwsSession, executions: int = 5) -> list[dict[str, Any]]:
    """ircli's state machines here (by tag), their rule, and their most recent executions."""
    sfn = aws.client("stepfunctions")
    events = aws.client("events")
    found = []
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if not machine["name"].startswith("ircli-"):
                continue
            arn = machine["stateMachineArn"]
            tags = sfn.list_tags_for_resource(resourceArn=arn).get("tags", [])
            runbook = next((t["value"] for t in tags if t.get("key") == TAG_KEY), None)
            if runbook is None:
                continue
            target = target_for(aws, runbook) if _RUNBOOK_NAME.match(runbook) else None
            rule_state = None
            if target is not None:
                try:
                    rule_state = events.describe_rule(Name=target.names.rule).get("State")
                except Exception as err:
                    if error_code(err) != "ResourceNotFoundException":
                        raise
            found.append({"runbook": runbook, "state_machine": arn,
                          "rule": target.names.rule if target else None,
                          "rule_state": rule_state or "absent",
                          "undelivered": _undelivered(aws, target) if target else None,
                          "executions": [e.to_dict() for e in
                                         _executions(aws, arn, executions)]})
    return sorted(found, key=lambda m: str(m["runbook"]))


def _undelivered(aws: AwsSession, target: Target) -> int | None:
    """Findings waiting in the dead-letter queue (the rule could not start the machine)."""
    sqs = aws.client("sqs")
    try:
        url = sqs.get_queue_url(QueueName=target.names.dead_letter_queue)["QueueUrl"]
    except Exception as err:
        if error_code(err) in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            return None
        raise
    count = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages"]).get("Attributes", {}).get("ApproximateNumberOfMessages")
    return int(count) if count is not None else None


def _executions(aws: AwsSession, machine_arn: str, limit: int) -> list[Execution]:
    if limit <= 0:
        return []
    sfn = aws.client("stepfunctions")
    listed = [e for page in sfn.get_paginator("list_executions").paginate(
        stateMachineArn=machine_arn, PaginationConfig={"MaxItems": limit})
        for e in page["executions"]]
    listed.sort(key=lambda e: str(e.get("startDate")), reverse=True)
    found = []
    for item in listed[:limit]:
        described = sfn.describe_execution(executionArn=item["executionArn"])
        event, output = _json(described.get("input")), _json(described.get("output"))
        detail = event.get("detail") if isinstance(event, dict) else None
        kind = detail.get("type") if isinstance(detail, dict) else None
        # the name is the ARN's last part (moto's executing engine leaves ``name`` out)
        name = str(item.get("name") or item["executionArn"].rsplit(":", 1)[-1])
        started = item.get("startDate")
        found.append(Execution(
            name, str(item.get("status") or described.get("status")),
            started.isoformat() if hasattr(started, "isoformat") else str(started),
            _target_of(event), case_id_of(name, event, output),
            kind if isinstance(kind, str) else None))
    return found
