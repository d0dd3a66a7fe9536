"""What deploy makes runs: the deployed machine (compiled by the real compiler, given this
account's bucket and topic) opens the case in the evidence bucket, and `list` names that case
as the machine wrote it. The emulator runs the state machine (with the compiler's shims)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ircli.core.session import AwsSession, AwsSettings
from ircli.ops.automation import (
    apply,
    list_automations,
    load_runbook,
    plan_for_deploy,
    plan_for_remove,
)
from tests.automation.conftest import Sfn, finding_event
from tests.automation.test_template import RECORD_ONLY


def test_the_deployed_machine_opens_the_case_list_names(sfn_world: Sfn,
                                                        tmp_path: Path) -> None:
    path = tmp_path / "record-only.yaml"
    path.write_text(RECORD_ONLY)
    aws = AwsSession(AwsSettings())
    plan = plan_for_deploy(aws, load_runbook(str(path)), 7, sfn_world.bucket)
    apply(aws, plan, sleep=lambda _s: None)

    ec2 = sfn_world.clients("ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0][
        "InstanceId"]
    run = sfn_world.run(plan.target.state_machine_arn, finding_event(instance, "gd-finding-7"))
    assert run.status == "SUCCEEDED", (run.error, run.cause, run.errors)

    (found,) = list_automations(aws)
    (execution,) = found["executions"]
    assert execution["status"] == "SUCCEEDED" and execution["target"] == instance
    case = json.loads(sfn_world.objects(f"cases/{execution['case_id']}/")[
        f"cases/{execution['case_id']}/case.json"])
    assert instance in json.dumps(case)
    # the topic the machine is told of is the one deploy made, not a placeholder
    definition = json.loads(sfn_world.clients("stepfunctions").describe_state_machine(
        stateMachineArn=plan.target.state_machine_arn)["definition"])
    assert "${" not in json.dumps(definition)
    assert plan.target.topic_arn in json.dumps(definition)


@pytest.mark.parametrize("name", ["ec2-compromise", "ssh-brute-force"])
def test_a_compiled_shipped_runbook_deploys_once(clients: Any, name: str) -> None:
    """A shipped runbook as the compiler makes it: deployed, then again with nothing to do,
    then removed to nothing."""
    clients("s3").create_bucket(Bucket="ir-evidence")
    aws = AwsSession(AwsSettings())
    runbook = load_runbook(name)
    first = plan_for_deploy(aws, runbook, 7, "ir-evidence")
    apply(aws, first, sleep=lambda _s: None)
    again = plan_for_deploy(aws, runbook, 7, "ir-evidence")
    assert not again.changes, [u.to_dict() for u in again.units if u.calls]
    policy = clients("iam").get_role_policy(RoleName=f"ircli-{name}-us-east-1-sfn",
                                            PolicyName=f"ircli-{name}")["PolicyDocument"]
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [
            statement["Action"]]
        assert all(a != "*" and not a.endswith(":*") for a in actions), statement
    apply(aws, plan_for_remove(aws, name), sleep=lambda _s: None)
    assert clients("stepfunctions").list_state_machines()["stateMachines"] == []
    assert clients("iam").list_roles()["Roles"] == []
