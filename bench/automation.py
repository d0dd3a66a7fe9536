"""Benchmark: the compiled ec2-compromise on Step Functions next to `ircli contain`.

One in-process emulator world (moto runs the state machine for real, with the test shims of
tests/automation/shims.py); twins configured alike (EIP, profile, Auto Scaling group, target
group). `ircli contain` runs on two of them, the state machine (started with a GuardDuty
finding event) on a third. Printed for each: AWS calls and wall time until the instance is
isolated and in total, and for the machine the states it executed (the case and audit writes
to S3 are among its calls). Wall times are the emulator's, not AWS's: compare the ratio.
Usage: python bench/automation.py
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
import pytest
from moto import mock_aws

from ircli.automation.compiler import compile_runbook
from ircli.core.clock import SystemClock
from ircli.core.session import AwsSession, AwsSettings
from ircli.lab.web_compromise import seed_web_compromise
from ircli.ops.contain import ContainOptions, contain
from ircli.runbook.library import get_runbook
from tests.automation.conftest import finding_event
from tests.automation.shims import installed
from tests.runbooks.test_run import launch_twins

REGION = "us-east-1"
ISOLATED = "isolate._End"  # the state after the last ENI reached the isolation group


def clients(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def with_cli(instance_id: str) -> dict[str, Any]:
    started = time.perf_counter()
    result = contain(AwsSession(AwsSettings(region=REGION)), SystemClock(),
                     ContainOptions(instance_id=instance_id))
    metrics = result.data["metrics"]
    return {"status": result.data["status"], "states": None,
            "calls_to_isolation": metrics["isolated_after"]["api_calls"],
            "seconds_to_isolation": metrics["isolated_after"]["seconds"],
            "calls_total": metrics["api_calls"],
            "seconds_total": round(time.perf_counter() - started, 3)}


def with_machine(machine: str, instance_id: str) -> dict[str, Any]:
    sfn = clients("stepfunctions")
    started = time.perf_counter()
    arn = sfn.start_execution(stateMachineArn=machine, name=uuid.uuid4().hex, input=json.dumps(
        finding_event(instance_id, finding_id=f"bench-{instance_id}")))["executionArn"]
    total = time.perf_counter() - started
    status = sfn.describe_execution(executionArn=arn)["status"]
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    first: datetime.datetime = events[0]["timestamp"]
    states = calls = 0
    to_isolation: dict[str, Any] = {}
    for event in events:
        if event["type"] == "TaskScheduled":
            calls += 1
        name = event.get("stateEnteredEventDetails", {}).get("name")
        if name is None:
            continue
        states += 1
        if name == ISOLATED and not to_isolation:
            to_isolation = {"states": states, "calls": calls,
                            "seconds": (event["timestamp"] - first).total_seconds()}
    return {"status": status, "states": f"{to_isolation.get('states')}/{states}",
            "calls_to_isolation": to_isolation.get("calls"),
            "seconds_to_isolation": to_isolation.get("seconds", 0.0), "calls_total": calls,
            "seconds_total": round(total, 3)}


def ratio(a: dict[str, Any], b: dict[str, Any], key: str) -> float:
    return float(a[key]) / max(float(b[key]), 1e-3)


def world(runner: str) -> list[tuple[str, dict[str, Any]]]:
    """A fresh world: twin A contained first (the isolation groups missing), then twin B
    (they exist), both by ``runner``."""
    with pytest.MonkeyPatch.context() as monkeypatch, \
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        installed(monkeypatch)
        lab = seed_web_compromise(clients, REGION)
        a, b = launch_twins(clients, lab)
        if runner == "contain":
            return [("ircli contain, groups missing", with_cli(a)),
                    ("ircli contain, groups exist", with_cli(b))]
        clients("s3").create_bucket(Bucket="bench-evidence")
        topic = clients("sns").create_topic(Name="bench")["TopicArn"]
        compiled = compile_runbook(get_runbook("ec2-compromise"), bucket="bench-evidence",
                                   topic_arn=topic)
        role = clients("iam").create_role(RoleName="bench-sfn", AssumeRolePolicyDocument="{}")
        machine = clients("stepfunctions").create_state_machine(
            name="ircli-ec2-compromise", roleArn=role["Role"]["Arn"],
            definition=json.dumps(compiled.definition))["stateMachineArn"]
        return [("state machine, groups missing", with_machine(machine, a)),
                ("state machine, groups exist", with_machine(machine, b))]


def main() -> int:
    logging.getLogger("moto").setLevel(logging.CRITICAL)  # its engine logs every IsPresent
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION=REGION,
                      IRCLI_HOME=tempfile.mkdtemp(prefix="ircli-bench-"))
    rows = [*world("contain"), *world("machine")]
    print("ec2-compromise on a twin (1 ENI, 1 volume, EIP, ASG + target group), in-process "
          "emulator")
    print(f"{'run':<32}{'status':>11}{'states':>10}{'calls→iso':>11}{'s→iso':>8}"
          f"{'calls':>7}{'s total':>9}")
    for name, row in rows:
        print(f"{name:<32}{row['status']:>11}{row['states'] or '-':>10}"
              f"{row['calls_to_isolation']!s:>11}{row['seconds_to_isolation']:>8.2f}"
              f"{row['calls_total']:>7}{row['seconds_total']:>9.2f}")
    for label, cli, auto in (("groups missing", rows[0][1], rows[2][1]),
                             ("groups exist", rows[1][1], rows[3][1])):
        print(f"machine / contain ({label}): calls to isolation "
              f"{auto['calls_to_isolation'] / cli['calls_to_isolation']:.1f}x, emulator time to "
              f"isolation {ratio(auto, cli, 'seconds_to_isolation'):.1f}x, "
              f"total {ratio(auto, cli, 'seconds_total'):.1f}x")
    return 0 if all(r["status"] in ("SUCCEEDED", "contained") for _, r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
