"""A Step Functions-executing emulator in-process, with the shims, and a runner for machines."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from moto import mock_aws

from ircli.automation.compiler import CompiledRunbook
from tests.automation.shims import Emulator, history_errors, installed
from tests.conftest import _client_per_service, boto_session

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "ircli-evidence-automation"


@dataclass
class Run:
    status: str
    output: dict[str, Any] | None
    arn: str
    errors: list[dict[str, Any]]
    error: str | None = None
    cause: str | None = None
    states: list[str] | None = None  # the states entered, in order
    largest_state: int = 0  # bytes of the largest state input or output (AWS caps: 256 KiB)

    def why(self) -> str:
        return f"{self.error} in {(self.states or ['?'])[-1]}: {(self.cause or '')[:600]}"


@dataclass
class Sfn:
    clients: Any
    emulator: Emulator
    topic_arn: str
    queue_url: str
    bucket: str = BUCKET

    def deploy(self, compiled: CompiledRunbook, name: str | None = None) -> str:
        role = self.clients("iam").create_role(
            RoleName=f"sfn-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
                    "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
        return str(self.clients("stepfunctions").create_state_machine(
            name=name or f"ircli-{compiled.name}", roleArn=role,
            definition=json.dumps(compiled.definition))["stateMachineArn"])

    def run(self, machine: str, event: dict[str, Any]) -> Run:
        sfn = self.clients("stepfunctions")
        arn = sfn.start_execution(stateMachineArn=machine, name=uuid.uuid4().hex,
                                  input=json.dumps(event))[
            "executionArn"]
        described = sfn.describe_execution(executionArn=arn)
        output = json.loads(described["output"]) if described.get("output") else None
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        entered = [e["stateEnteredEventDetails"]["name"] for e in events
                   if "stateEnteredEventDetails" in e]
        sizes = [len(d.get("input") or d.get("output") or "") for e in events
                 for d in (e.get("stateEnteredEventDetails"), e.get("stateExitedEventDetails"))
                 if d]
        return Run(described["status"], output, arn, history_errors(events),
                   described.get("error"), described.get("cause"), entered, max(sizes, default=0))

    def objects(self, prefix: str) -> dict[str, bytes]:
        s3 = self.clients("s3")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get(
            "Contents", [])]
        return {k: s3.get_object(Bucket=self.bucket, Key=k)["Body"].read() for k in keys}

    def messages(self) -> list[dict[str, Any]]:
        found = self.clients("sqs").receive_message(QueueUrl=self.queue_url,
                                                    MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in found.get("Messages", [])]


@pytest.fixture
def sfn_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sfn]:
    emulator = installed(monkeypatch)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        clients = _client_per_service(boto_session(region_name=REGION))
        clients("s3").create_bucket(Bucket=BUCKET)
        topic = clients("sns").create_topic(Name="ircli-automation")["TopicArn"]
        queue = clients("sqs").create_queue(QueueName="ircli-alerts")["QueueUrl"]
        queue_arn = clients("sqs").get_queue_attributes(
            QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        clients("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                                 Attributes={"RawMessageDelivery": "true"})
        yield Sfn(clients, emulator, topic, queue)


def finding_event(instance_id: str, finding_id: str = "finding-1",
                  finding_type: str = "Backdoor:EC2/C&CActivity.B", **extra: Any
                  ) -> dict[str, Any]:
    """A GuardDuty finding as EventBridge delivers it."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "GuardDuty Finding",
            "source": "aws.guardduty", "account": ACCOUNT, "region": REGION,
            "time": "2026-12-01T12:00:00Z", "resources": [],
            "detail": {"schemaVersion": "2.0", "accountId": ACCOUNT, "region": REGION,
                       "id": finding_id, "type": finding_type, "severity": 8,
                       "resource": {"resourceType": "Instance",
                                    "instanceDetails": {"instanceId": instance_id}},
                       "service": {"action": {}}, **extra}}
