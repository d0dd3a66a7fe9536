"""What deploy makes runs: the deployed machine (compiled by the real compiler, given this
account's bucket and topic) opens the case in the evidence bucket, and `list` names that case
as the machine wrote it. The emulator runs the state machine (with the compiler's shims)."""

from __future__ import annotations

import json
from pathlib import Path

from ircli.core.session import AwsSession, AwsSettings
from ircli.ops.automation import apply, list_automations, load_runbook, plan_for_deploy
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
