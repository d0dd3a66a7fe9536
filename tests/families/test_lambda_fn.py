"""The Lambda runbook on the emulator: the attacker opens the function to the world and
another account; the runbook throttles it, closes its policy and denies its role to its own
sessions; converges; a dry-run changes nothing; release restores exactly."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from ircli.ops.triage import finding_target
from ircli.runbook.library import all_runbooks
from ircli.triage.finding import parse_finding
from ircli.triage.match import match_runbook
from tests.families.conftest import sample
from tests.helpers import ircli

FUNCTION = "orders-api"
ROLE = "orders-api-exec"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
    return buffer.getvalue()


@pytest.fixture
def opened(clients: Any) -> Any:
    iam = clients("iam")
    role = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]
    }))["Role"]["Arn"]
    fn = clients("lambda")
    fn.create_function(FunctionName=FUNCTION, Runtime="python3.12", Role=role,
                       Handler="app.handler", Code={"ZipFile": _zip()},
                       Environment={"Variables": {"DB_PASSWORD": "hunter2-secret"}})
    fn.put_function_concurrency(FunctionName=FUNCTION, ReservedConcurrentExecutions=5)
    # the attacker, as plain API calls: the public and another account may invoke it
    fn.add_permission(FunctionName=FUNCTION, StatementId="everyone",
                      Action="lambda:InvokeFunction", Principal="*")
    fn.add_permission(FunctionName=FUNCTION, StatementId="outsider",
                      Action="lambda:InvokeFunction", Principal="999999999999")
    fn.add_permission(FunctionName=FUNCTION, StatementId="s3-events",
                      Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                      SourceAccount="123456789012")
    return fn


def state(clients: Any) -> dict[str, Any]:
    fn = clients("lambda")
    policy = json.loads(fn.get_policy(FunctionName=FUNCTION)["Policy"])
    iam = clients("iam")
    return {"reserved": fn.get_function_concurrency(FunctionName=FUNCTION).get(
                "ReservedConcurrentExecutions"),
            "sids": sorted(s["Sid"] for s in policy["Statement"]),
            "role_policies": iam.list_role_policies(RoleName=ROLE)["PolicyNames"]}


def test_triage_picks_the_lambda_runbook_and_the_function() -> None:
    finding = parse_finding(sample("lambda-c2"))
    match = match_runbook(finding, all_runbooks())
    assert match is not None and match.runbook.name == "lambda-compromise"
    assert finding_target(finding, match.runbook) == FUNCTION


def test_contain_converge_and_release_exactly(capsys, clients, opened, cli_clock,
                                              aws_env) -> None:
    before = state(clients)
    dry = ircli(capsys, "runbook", "run", "lambda-compromise", "--target", FUNCTION,
                "--dry-run")
    assert dry.code == 0, dry.err
    assert state(clients) == before and not (aws_env / "cases").exists()

    result = ircli(capsys, "runbook", "run", "lambda-compromise", "--target", FUNCTION,
                   "--yes", "--case-id", "case-fn")
    assert result.code == 0, result.err
    after = state(clients)
    assert after["reserved"] == 0
    assert after["sids"] == ["s3-events"]  # same-account service trigger kept
    policy = "ircli-deny-function-case-fn"
    assert after["role_policies"] == [policy]
    deny = clients("iam").get_role_policy(RoleName=ROLE, PolicyName=policy)["PolicyDocument"]
    arn = clients("lambda").get_function(FunctionName=FUNCTION)["Configuration"]["FunctionArn"]
    assert deny["Statement"][0]["Condition"] == {"ArnEquals": {
        "lambda:SourceFunctionArn": arn}}
    case_text = (aws_env / "cases" / "case-fn" / "case.json").read_text()
    assert "hunter2-secret" not in case_text  # env var names only, never values
    recorded = json.loads(case_text)["targets"][f"function/{FUNCTION}"]["pre_state"]
    assert recorded["environment_variable_names"] == ["DB_PASSWORD"]
    assert recorded["code_sha256"] and "Location" not in case_text

    again = ircli(capsys, "runbook", "run", "lambda-compromise", "--target", FUNCTION,
                  "--yes", "--case-id", "case-fn")
    assert all(s["status"] == "already-done" for s in again.data["steps"]), again.data["steps"]
    assert state(clients) == after

    released = ircli(capsys, "release", "--function", FUNCTION, "--yes")
    assert released.code == 0, released.err
    assert state(clients) == before
