"""`ircli automation …` through the real entry point (in-process emulator): what a responder
and a playbook see — the plan, the prompt, exit codes, escaped attacker text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ircli.core.step import NotCompilable
from tests.automation.test_template import record_only
from tests.helpers import Outcome, ircli

BUCKET = "ir-evidence"


@pytest.fixture
def runbook(tmp_path: Path) -> str:
    return str(record_only(tmp_path).path)


@pytest.fixture
def bucket(clients: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    clients("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("IRCLI_EVIDENCE_BUCKET", BUCKET)
    return BUCKET


def run(capsys: pytest.CaptureFixture[str], *args: str, json_output: bool = True) -> Outcome:
    return ircli(capsys, "automation", *args, json_output=json_output)


def one_error(result: Outcome, *words: str) -> None:
    """Exit 2, a single 'ircli: error:' sentence (and its remedy), no traceback."""
    assert result.code == 2, (result.out, result.err)
    assert "Traceback" not in result.err
    lines = [line for line in result.err.splitlines() if line.startswith("ircli: error:")]
    assert len(lines) == 1, result.err
    for word in words:
        assert word in result.err


def test_render_prints_a_template_and_the_asl(capsys: pytest.CaptureFixture[str],
                                             runbook: str) -> None:
    result = run(capsys, "render", runbook, json_output=False)
    assert result.code == 0, result.err
    template = yaml.safe_load(result.out)
    assert template["Resources"]["Rule"]["Properties"]["EventPattern"]["detail"][
        "severity"] == [{"numeric": [">=", 7.0]}]
    as_json = run(capsys, "render", runbook, "--format", "json", "--severity", "4",
                  json_output=False)
    assert json.loads(as_json.out)["Resources"]["Rule"]["Properties"]["EventPattern"][
        "detail"]["severity"] == [{"numeric": [">=", 4.0]}]
    asl = run(capsys, "render", runbook, "-o", "asl", "--bucket", "my-evidence",
              json_output=False)
    definition = json.loads(asl.out)
    assert definition["StartAt"] in definition["States"]
    assert "my-evidence" in asl.out and "${EvidenceBucket}" not in asl.out


def test_render_errors_are_one_sentence(capsys: pytest.CaptureFixture[str], runbook: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    one_error(run(capsys, "render", "no-such-runbook", json_output=False),
              "no runbook named 'no-such-runbook'")

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise NotCompilable("leave-asg", "it has no Step Functions form yet")

    monkeypatch.setattr("ircli.ops.automation.compile_runbook", refuse)
    one_error(run(capsys, "render", runbook, json_output=False), "'leave-asg'")
    assert run(capsys, "render", runbook, "--severity", "11", json_output=False).code == 2


def test_deploy_dry_run_is_the_plan_deploy_runs(capsys: pytest.CaptureFixture[str],
                                                runbook: str, bucket: str,
                                                clients: Any) -> None:
    planned = run(capsys, "deploy", runbook, "--dry-run")
    assert planned.code == 0, planned.err
    plan = planned.data
    assert plan["dry_run"] and plan["done"] == [] and plan["changes"]
    assert clients("stepfunctions").list_state_machines()["stateMachines"] == []
    assert clients("iam").list_roles()["Roles"] == []

    deployed = run(capsys, "deploy", runbook, "--yes")
    assert deployed.code == 0, deployed.err
    assert deployed.data["units"] == plan["units"]
    assert deployed.data["done"] == [c["summary"] for u in plan["units"] for c in u["calls"]]

    again = run(capsys, "deploy", runbook, "--yes", json_output=False)
    assert again.code == 0 and "Up to date" in again.out
    assert "would" not in again.err and "will" not in again.err


def test_deploy_asks_and_without_a_terminal_refuses(capsys: pytest.CaptureFixture[str],
                                                    runbook: str, bucket: str,
                                                    clients: Any) -> None:
    result = run(capsys, "deploy", runbook, json_output=False)
    one_error(result, "--yes")
    assert "will create state machine ircli-record-only" in result.err
    assert clients("stepfunctions").list_state_machines()["stateMachines"] == []


def test_deploy_needs_an_existing_evidence_bucket(capsys: pytest.CaptureFixture[str],
                                                  runbook: str, clients: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    one_error(run(capsys, "deploy", runbook, "--yes", json_output=False),
              "No evidence bucket is configured")
    monkeypatch.setenv("IRCLI_EVIDENCE_BUCKET", "nobody-made-this")
    one_error(run(capsys, "deploy", runbook, "--yes", json_output=False),
              "nobody-made-this does not exist", "ircli evidence init")
    assert clients("iam").list_roles()["Roles"] == []


def test_access_denied_is_one_sentence(capsys: pytest.CaptureFixture[str], runbook: str,
                                       bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """SNS refuses the caller (as AWS answers a missing sns:GetTopicAttributes)."""
    from ircli.core.session import AwsSession

    real = AwsSession.client

    class Denied:
        status_code = 403

    def deny(**_kwargs: Any) -> tuple[Any, dict[str, Any]]:
        return Denied(), {"Error": {"Code": "AuthorizationError", "Message": "not authorized"},
                          "ResponseMetadata": {"HTTPStatusCode": 403}}

    def client(self: AwsSession, service: str, region: str | None = None) -> Any:
        made = real(self, service, region)
        if service == "sns":
            made.meta.events.register("before-call.sns.GetTopicAttributes", deny)
        return made

    monkeypatch.setattr(AwsSession, "client", client)
    one_error(run(capsys, "deploy", runbook, "--yes", json_output=False),
              "AWS refused GetTopicAttributes", "ircli policy")


def test_list_escapes_attacker_text_and_remove_deletes_it_all(
        capsys: pytest.CaptureFixture[str], runbook: str, bucket: str, clients: Any) -> None:
    assert run(capsys, "deploy", runbook, "--yes").code == 0
    sfn = clients("stepfunctions")
    (machine,) = sfn.list_state_machines()["stateMachines"]
    hostile = "Backdoor:EC2/X\x1b[2J\x1b]0;owned\x07\n[red]fake[/red]"
    sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=json.dumps({
        "detail": {"id": "f-9", "type": hostile, "resource": {
            "instanceDetails": {"instanceId": "i-0123456789abcdef0\u202e"}}}}))

    listed = run(capsys, "list")
    assert listed.code == 0
    (found,) = listed.data["automations"]
    assert found["runbook"] == "record-only" and found["rule_state"] == "ENABLED"
    (execution,) = found["executions"]
    assert execution["finding_type"] == hostile  # the document keeps the text as it was
    assert execution["target"] == "i-0123456789abcdef0\u202e"
    assert execution["case_id"].startswith("ir-gd-")

    text = run(capsys, "list", json_output=False)
    assert text.code == 0
    assert "\x1b" not in text.out and "\x07" not in text.out and "\u202e" not in text.out
    assert "\\x1b[2J" in text.out and "\\n[red]fake[/red]" in text.out
    assert execution["case_id"] in text.out

    removed = run(capsys, "remove", "record-only", "--yes")
    assert removed.code == 0, removed.err
    assert sfn.list_state_machines()["stateMachines"] == []
    assert clients("events").list_rules()["Rules"] == []
    assert clients("iam").list_roles()["Roles"] == []
    assert clients("sns").list_topics()["Topics"] == []
    assert clients("sqs").list_queues().get("QueueUrls", []) == []
    again = run(capsys, "remove", "record-only", "--yes", json_output=False)
    assert again.code == 0 and "Nothing to remove" in again.out
    assert "No ircli automation" in run(capsys, "list", json_output=False).out


def test_policy_prints_the_deployer_s_scoped_grant(capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRCLI_EVIDENCE_BUCKET", BUCKET)
    result = run(capsys, "policy", json_output=False)
    assert result.code == 0, result.err
    statements = json.loads(result.out)["Statement"]
    by_action = {a: s for s in statements for a in s["Action"]}
    assert by_action["s3:ListBucket"]["Resource"] == f"arn:aws:s3:::{BUCKET}"
    assert by_action["iam:CreateRole"]["Resource"] == "arn:aws:iam::*:role/ircli-*"
    assert by_action["states:CreateStateMachine"]["Resource"] == \
        "arn:aws:states:*:*:stateMachine:ircli-*"
    passes = [s for s in statements if "iam:PassRole" in s["Action"]]
    assert sorted(s["Condition"]["StringEquals"]["iam:PassedToService"] for s in passes) == [
        "events.amazonaws.com", "states.amazonaws.com"]
    assert [a for a, s in by_action.items() if s["Resource"] == "*"] == [
        "states:ListStateMachines"]


def test_render_of_a_large_template_says_to_go_through_s3(
        capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "render", "ec2-compromise", json_output=False)
    assert result.code == 0, result.err
    assert "upload it to S3" in result.err and "--template-url" in result.err
    assert yaml.safe_load(result.out)["Resources"]["StateMachine"]


def test_a_policy_iam_would_refuse_is_refused_before_anything_is_made() -> None:
    from ircli.core.errors import UserError
    from ircli.ops.automation import check_sizes

    check_sizes("small", {"StartAt": "A"}, {"Statement": []})
    with pytest.raises(UserError, match="10240"):
        check_sizes("big", {"StartAt": "A"}, {"Statement": ["x" * 10300]})
    with pytest.raises(UserError, match="definition"):
        check_sizes("huge", {"States": "x" * (1024 * 1024 + 1)}, {})
