"""A Step Functions-executing emulator in-process, with the shims, and a runner for machines."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
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
    """One execution's outcome. Its history is read through the API only when a test asks for
    it (most read the status alone): serialising and parsing a long history costs the
    in-process emulator about a second."""

    status: str
    output: dict[str, Any] | None
    arn: str
    error: str | None = None
    cause: str | None = None
    read_history: Callable[[], list[dict[str, Any]]] = field(default=list, repr=False)

    @cached_property
    def history(self) -> list[dict[str, Any]]:
        return self.read_history()

    @property
    def errors(self) -> list[dict[str, Any]]:
        return history_errors(self.history)

    @property
    def states(self) -> list[str]:
        """The states entered, in order."""
        return [e["stateEnteredEventDetails"]["name"] for e in self.history
                if "stateEnteredEventDetails" in e]

    @property
    def largest_state(self) -> int:
        """Bytes of the largest state input or output (AWS caps them at 256 KiB)."""
        return max((len(d.get("input") or d.get("output") or "") for e in self.history
                    for d in (e.get("stateEnteredEventDetails"),
                              e.get("stateExitedEventDetails")) if d), default=0)

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

        def read_history() -> list[dict[str, Any]]:
            pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
            return [event for page in pages for event in page["events"]]

        return Run(described["status"], output, arn, described.get("error"),
                   described.get("cause"), read_history)

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
