"""Benchmark: what the compiled share-forensic-copies adds to ec2-compromise.

Compiled without and with a ``[forensics]`` account: definition size, states (nested Map
states counted), execution-role policy size. Then each machine runs on the lab's suspect
(three volumes: three snapshots, three copies) in a fresh in-process emulator world (moto runs
the state machine, with the test shims of tests/automation/shims.py), and a second delivery
of the same finding: states entered, SDK calls, emulator time. The emulator's time is not
AWS's (where the copies take minutes): compare the ratio within one run of this script.
Usage: python bench/forensics_automation.py

Measured (2 cores shared by 8 engineers): 151,797 -> 188,758 bytes, 431 -> 479 top-level
states (484 -> 601 with the Map iterations'), role policy 2,006 -> 2,895 characters; first
delivery 461 -> 625 states entered and 79 -> 104 SDK calls (1.36x, 1.32x), second delivery
458 -> 619 and 72 -> 89 (1.35x, 1.24x), 3 copies after both. Emulator seconds (13.8-31 s a
run) moved 0.7x-1.4x between runs on the shared machine: the states and calls are the
stable measure.
"""

from __future__ import annotations

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

from ircli.automation.compiler import CompiledRunbook, compile_runbook
from ircli.automation.template import execution_policy
from ircli.lab.web_compromise import seed_web_compromise
from ircli.runbook.library import get_runbook
from tests.automation.conftest import finding_event
from tests.automation.shims import installed
from tests.forensics.shims import copy_honours_encrypted

REGION = "us-east-1"
BUCKET = "bench-central-evidence"
FORENSICS = "999999999999"
KEY = f"arn:aws:kms:{REGION}:{FORENSICS}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def clients(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def configure(home: Path, forensics: bool) -> None:
    home.mkdir(parents=True, exist_ok=True)
    text = (f'[forensics]\naccount = "{FORENSICS}"\nregion = "{REGION}"\n'
            f'role_name = "ircli-forensics"\nkms_key = "{KEY}"\nbucket = "{BUCKET}"\n')
    (home / "config.toml").write_text(text if forensics else "")


def count_states(states: dict[str, Any]) -> int:
    return sum(1 + (count_states(s["ItemProcessor"]["States"]) if "ItemProcessor" in s else 0)
               for s in states.values())


def compiled(topic: str) -> CompiledRunbook:
    return compile_runbook(get_runbook("ec2-compromise"), bucket=BUCKET, topic_arn=topic,
                           region=REGION)


def shape(machine: CompiledRunbook, topic: str) -> dict[str, Any]:
    policy = execution_policy(machine, partition="aws", dns_suffix="amazonaws.com",
                              bucket=BUCKET, topic_arn=topic)
    return {"bytes": len(json.dumps(machine.definition, separators=(",", ":")).encode()),
            "top": len(machine.definition["States"]),
            "all": count_states(machine.definition["States"]),
            "policy": len(json.dumps(policy, separators=(",", ":")))}


def execute(sfn: Any, machine: str, event: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    arn = sfn.start_execution(stateMachineArn=machine, name=uuid.uuid4().hex,
                              input=json.dumps(event))["executionArn"]
    seconds = time.perf_counter() - started
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return {"status": sfn.describe_execution(executionArn=arn)["status"],
            "states": sum(1 for e in events if "stateEnteredEventDetails" in e),
            "calls": sum(1 for e in events if e["type"] == "TaskScheduled"),
            "seconds": round(seconds, 2)}


def world(forensics: bool, home: Path) -> dict[str, Any]:
    configure(home, forensics)
    with pytest.MonkeyPatch.context() as monkeypatch, \
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        installed(monkeypatch)
        copy_honours_encrypted(monkeypatch)
        lab = seed_web_compromise(clients, REGION)
        clients("s3").create_bucket(Bucket=BUCKET)
        topic = clients("sns").create_topic(Name="bench")["TopicArn"]
        machine_def = compiled(topic)
        role = clients("iam").create_role(RoleName="bench-sfn", AssumeRolePolicyDocument="{}")
        sfn = clients("stepfunctions")
        machine = sfn.create_state_machine(
            name="ircli-ec2-compromise", roleArn=role["Role"]["Arn"],
            definition=json.dumps(machine_def.definition))["stateMachineArn"]
        event = finding_event(lab.suspect, finding_id="bench-forensics")
        first = execute(sfn, machine, event)
        again = execute(sfn, machine, event)
        copies = len(clients("ec2").describe_snapshots(OwnerIds=["self"], Filters=[
            {"Name": "tag:ircli:purpose", "Values": ["forensic-copy"]}])["Snapshots"])
        return {"shape": shape(machine_def, topic), "first": first, "again": again,
                "copies": copies}


def main() -> int:
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    home = Path(tempfile.mkdtemp(prefix="ircli-bench-"))
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION=REGION, IRCLI_HOME=str(home))
    plain, central = world(False, home), world(True, home)
    print("compiled ec2-compromise, the lab's suspect (3 volumes), in-process emulator")
    print(f"{'':<22}{'bytes':>9}{'states':>8}{'(nested)':>10}{'role policy':>13}")
    for name, row in (("without [forensics]", plain), ("with [forensics]", central)):
        s = row["shape"]
        print(f"{name:<22}{s['bytes']:>9}{s['top']:>8}{s['all']:>10}{s['policy']:>13}")
    print(f"{'':<22}{'status':>11}{'states':>8}{'calls':>7}{'seconds':>9}  (first | again)")
    for name, row in (("without [forensics]", plain), ("with [forensics]", central)):
        for when in ("first", "again"):
            r = row[when]
            print(f"{name + ' ' + when:<28}{r['status']:>11}{r['states']:>8}{r['calls']:>7}"
                  f"{r['seconds']:>9.2f}")
    print(f"forensic copies made: {central['copies']} (after two deliveries)")
    for when in ("first", "again"):
        print(f"{when}: with / without: states "
              f"{central[when]['states'] / plain[when]['states']:.2f}x, calls "
              f"{central[when]['calls'] / max(plain[when]['calls'], 1):.2f}x, emulator time "
              f"{central[when]['seconds'] / max(plain[when]['seconds'], 1e-3):.2f}x")
    ok = all(r[w]["status"] == "SUCCEEDED" for r in (plain, central) for w in ("first", "again"))
    return 0 if ok and central["copies"] == 3 else 1


if __name__ == "__main__":
    sys.exit(main())
