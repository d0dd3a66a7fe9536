"""The rule's pattern matches the GuardDuty findings it should and no others: checked by the
emulator's EventBridge, both with TestEventPattern and by a real delivery to an SQS queue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ircli.automation.rule import event_pattern, pattern_json, type_matcher
from ircli.core.errors import UserError
from ircli.ops.automation import load_runbook

TESTS = Path(__file__).resolve().parents[1]
SAMPLES = sorted([*(TESTS / "runbooks" / "findings").glob("*.json"),
                  *(TESTS / "families" / "findings").glob("*.json")])


def as_event(path: Path) -> dict[str, Any]:
    """A sample as EventBridge delivers it (some samples are the bare finding)."""
    document = json.loads(path.read_text())
    if "detail" in document:
        return dict(document)
    return {"version": "0", "id": f"event-{document['id']}", "detail-type": "GuardDuty Finding",
            "source": "aws.guardduty", "account": document["accountId"],
            "time": "2026-11-28T02:58:44Z", "region": document["region"], "resources": [],
            "detail": document}


def finding(kind: str, severity: float, role: str | None = "ACTOR",
            finding_id: str = "f-1") -> dict[str, Any]:
    service: dict[str, Any] = {"serviceName": "guardduty"}
    if role:
        service["resourceRole"] = role
    return {"version": "0", "id": f"event-{finding_id}", "detail-type": "GuardDuty Finding",
            "source": "aws.guardduty", "account": "123456789012", "time": "2026-11-28T02:58:44Z",
            "region": "us-east-1", "resources": [],
            "detail": {"id": finding_id, "type": kind, "severity": severity, "service": service,
                       "resource": {"resourceType": "Instance",
                                    "instanceDetails": {"instanceId": "i-0123456789abcdef0"}}}}


def test_type_matchers() -> None:
    assert type_matcher("Recon:EC2/Portscan") == "Recon:EC2/Portscan"
    assert type_matcher("Backdoor:EC2/*") == {"prefix": "Backdoor:EC2/"}
    assert type_matcher("*:Runtime/*") == {"wildcard": "*:Runtime/*"}
    assert type_matcher("Execution:*/MaliciousFile") == {"wildcard": "Execution:*/MaliciousFile"}
    for unmatchable in ("Backdoor:EC2/C&CActivity.?", "Trojan:EC2/[A-Z]*"):
        with pytest.raises(UserError, match="cannot match"):
            type_matcher(unmatchable)


@pytest.mark.parametrize("severity", [0, 10.5, -1])
def test_severity_outside_guardduty_range_is_refused(severity: float) -> None:
    with pytest.raises(UserError, match="severity"):
        event_pattern(["Backdoor:EC2/*"], severity)


def test_no_finding_types_is_refused() -> None:
    with pytest.raises(UserError, match="no finding types"):
        event_pattern([], 7)


@pytest.fixture
def test_event_pattern_shim(monkeypatch: pytest.MonkeyPatch) -> None:
    """Emulator shim: moto 5.2 answers TestEventPattern with an empty body (its backend
    raises NotImplementedError). The shim answers it with moto's own ``EventPattern`` matcher,
    the one that decides which events its rules deliver, so the call's answer is what a
    delivery would do. AWS documents ``{"Result": true|false}``."""
    from moto.events.models import EventPattern
    from moto.events.responses import EventsHandler

    def answer(self: EventsHandler) -> tuple[str, dict[str, Any]]:
        pattern = EventPattern.load(self._get_param("EventPattern"))
        result = pattern.matches_event(json.loads(self._get_param("Event")))
        return json.dumps({"Result": result}), self.response_headers

    monkeypatch.setattr(EventsHandler, "test_event_pattern", answer, raising=True)


def matches(clients: Any, pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    answer = clients("events").test_event_pattern(EventPattern=pattern_json(pattern),
                                                  Event=json.dumps(event))
    return bool(answer["Result"])


# sample file -> runbooks whose rule (severity >= 7) it must start
EXPECTED_AT_7 = {
    "ec2-compromise.json": {"ec2-compromise"},       # Backdoor:EC2/C&CActivity.B, 8
    "ec2-dot.json": {"ec2-compromise"},              # DefenseEvasion:EC2/*, 8, ACTOR
    "ec2-impact-dns.json": {"ec2-compromise"},       # Impact:EC2/*, 8
    "eks-runtime-pod.json": {"ec2-compromise"},      # Execution:Runtime/ReverseShell, 8
    "ssh-brute-force.json": set(),                   # severity 2: below the minimum
    "s3-public.json": set(),                         # unrelated type, severity 5
    "port-probe.json": set(),                        # no runbook of these, severity 2
}


def test_shipped_patterns_on_the_samples_by_test_event_pattern(
        clients: Any, test_event_pattern_shim: None) -> None:
    patterns = {name: event_pattern(load_runbook(name).finding_types, 7)
                for name in ("ec2-compromise", "ssh-brute-force")}
    seen = {}
    for path in SAMPLES:
        if path.name in EXPECTED_AT_7:
            event = as_event(path)
            seen[path.name] = {n for n, p in patterns.items() if matches(clients, p, event)}
    assert seen == EXPECTED_AT_7


def test_resource_role_and_severity_decide(clients: Any, test_event_pattern_shim: None) -> None:
    ec2 = event_pattern(load_runbook("ec2-compromise").finding_types, 7)
    ssh = event_pattern(load_runbook("ssh-brute-force").finding_types, 7)
    brute = "UnauthorizedAccess:EC2/SSHBruteForce"
    # our instance brute-forces others (ACTOR): it is compromised
    assert matches(clients, ec2, finding(brute, 8, "ACTOR"))
    assert not matches(clients, ssh, finding(brute, 8, "ACTOR"))
    # our instance is brute-forced (TARGET): block the address, do not contain the host
    assert matches(clients, ssh, finding(brute, 8, "TARGET"))
    assert not matches(clients, ec2, finding(brute, 8, "TARGET"))
    # the boundary is inclusive, below it nothing starts
    assert matches(clients, ec2, finding("Backdoor:EC2/Spambot", 7))
    assert not matches(clients, ec2, finding("Backdoor:EC2/Spambot", 6.9))
    # a prefix is anchored: a type that merely contains it is not matched
    assert not matches(clients, ec2, finding("Policy:Backdoor:EC2/X", 8))
    # another source that copies GuardDuty's shape is not GuardDuty
    forged = finding("Backdoor:EC2/Spambot", 8)
    forged["source"] = "custom.guardduty"
    assert not matches(clients, ec2, forged)


def test_rule_delivers_exactly_the_matching_findings_to_a_queue(clients: Any) -> None:
    """A real delivery: the rule in the emulator's EventBridge, an SQS target, PutEvents.

    Emulator shim: AWS reserves ``aws.*`` sources for its own services, so a customer's
    PutEvents cannot send ``aws.guardduty``; moto accepts it, which lets the test stand in for
    GuardDuty. The pattern under test is the one deploy writes."""
    sqs, events = clients("sqs"), clients("events")
    queue = sqs.create_queue(QueueName="findings")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    pattern = event_pattern(load_runbook("ec2-compromise").finding_types, 7)
    events.put_rule(Name="ircli-ec2-compromise", EventPattern=pattern_json(pattern))
    events.put_targets(Rule="ircli-ec2-compromise", Targets=[{"Id": "q", "Arn": queue_arn}])
    sent = [as_event(p) for p in SAMPLES]
    sent += [finding("UnauthorizedAccess:EC2/SSHBruteForce", 8, "TARGET", "brute-target"),
             finding("UnauthorizedAccess:EC2/SSHBruteForce", 8, "ACTOR", "brute-actor"),
             finding("Backdoor:EC2/Spambot", 3, "ACTOR", "low-severity")]
    for event in sent:
        answer = events.put_events(Entries=[{
            "Source": event["source"], "DetailType": event["detail-type"],
            "Detail": json.dumps(event["detail"])}])
        assert answer["FailedEntryCount"] == 0
    received = set()
    while True:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            break
        for message in batch:
            received.add(json.loads(message["Body"])["detail"]["id"])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    # every sample of an ec2-compromise type at severity 7 or more, and no other
    delivered = {"ec2-compromise.json", "ec2-dot.json", "ec2-impact-dns.json",
                 "eks-runtime-pod.json", "eks-runtime-node.json"}
    expected = {as_event(p)["detail"]["id"] for p in SAMPLES if p.name in delivered}
    assert received == expected | {"brute-actor"}
    assert "low-severity" not in received and "brute-target" not in received
