"""deploy → list → remove with the installed `ircli` command against a moto server over HTTP,
without a terminal: what a playbook sees."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.automation.test_template import record_only

pytestmark = pytest.mark.e2e
BUCKET = "ir-evidence-e2e"


def ircli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("ircli", path=str(Path(sys.executable).parent))
    command = [exe] if exe else [sys.executable, "-m", "ircli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=dict(os.environ),
                          stdin=subprocess.DEVNULL, timeout=120, check=False)


def test_deploy_list_remove_over_http(server_clients: Any, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    server_clients("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("IRCLI_EVIDENCE_BUCKET", BUCKET)
    runbook = str(record_only(tmp_path).path)

    refused = ircli("automation", "deploy", runbook)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert server_clients("stepfunctions").list_state_machines()["stateMachines"] == []

    deployed = ircli("automation", "deploy", runbook, "--yes", "-o", "json")
    assert deployed.returncode == 0, deployed.stderr
    document = json.loads(deployed.stdout)
    assert document["changes"] and len(document["done"]) == 9
    again = ircli("automation", "deploy", runbook, "--yes", "-o", "json")
    assert again.returncode == 0 and json.loads(again.stdout)["done"] == []

    sfn = server_clients("stepfunctions")
    (machine,) = sfn.list_state_machines()["stateMachines"]
    assert machine["name"] == "ircli-record-only"
    rule = server_clients("events").describe_rule(Name="ircli-record-only")
    assert json.loads(rule["EventPattern"])["source"] == ["aws.guardduty"]
    sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="ir-e2e-auto-1",
                        input=json.dumps({"detail": {"type": "Backdoor:EC2/Spambot",
                                                     "resource": {"instanceDetails": {
                                                         "instanceId": "i-0e2e"}}}}))

    listed = ircli("automation", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    (found,) = json.loads(listed.stdout)["automations"]
    (execution,) = found["executions"]
    assert (execution["name"], execution["target"], execution["case_id"]) == (
        "ir-e2e-auto-1", "i-0e2e", "ir-e2e-auto-1")

    removed = ircli("automation", "remove", "record-only", "--yes", "-o", "json")
    assert removed.returncode == 0, removed.stderr
    assert sfn.list_state_machines()["stateMachines"] == []
    assert server_clients("events").list_rules()["Rules"] == []
    assert [r for r in server_clients("iam").list_roles()["Roles"]
            if r["RoleName"].startswith("ircli-")] == []
    assert server_clients("sns").list_topics()["Topics"] == []
    assert server_clients("sqs").list_queues().get("QueueUrls", []) == []
    assert "Traceback" not in deployed.stderr + listed.stderr + removed.stderr
