"""triage from the central account: every published shape of a member account's finding."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.accounts.conftest import MEMBER_A, MEMBER_B, REGIONS, ROLE, run_instance
from tests.helpers import ircli
from tests.runbooks.conftest import FINDINGS, collect_stand_in  # noqa: F401  (fixture)


def finding_for(instance: str, account: str, region: str) -> dict[str, Any]:
    raw = json.loads((FINDINGS / "ec2-compromise.json").read_text())
    text = json.dumps(raw).replace("i-99999999999999999", instance).replace(
        "123456789012", account).replace("us-east-1", region)
    return dict(json.loads(text))


def event(finding: dict[str, Any]) -> dict[str, Any]:
    return {"version": "0", "id": "e1", "detail-type": "GuardDuty Finding",
            "source": "aws.guardduty", "account": finding["accountId"],
            "region": finding["region"], "time": "2026-12-01T08:00:00Z", "resources": [],
            "detail": finding}


def pascal(value: Any) -> Any:
    """The PascalCase boto3 gives for GetFindings."""
    if isinstance(value, dict):
        return {k[0].upper() + k[1:]: pascal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [pascal(v) for v in value]
    return value


def asff(finding: dict[str, Any]) -> dict[str, Any]:
    """The same finding as Security Hub publishes it (ASFF, GuardDuty's fields flattened)."""
    account, region = finding["accountId"], finding["region"]
    instance = finding["resource"]["instanceDetails"]["instanceId"]
    remote = finding["service"]["action"]["networkConnectionAction"]["remoteIpDetails"]
    prefix = "aws/guardduty/service/action/networkConnectionAction/"
    return {
        "SchemaVersion": "2018-10-08", "Id": finding["arn"],
        "ProductArn": f"arn:aws:securityhub:{region}::product/aws/guardduty",
        "GeneratorId": finding["arn"], "AwsAccountId": account, "Region": region,
        "Types": ["TTPs/Command and Control/Backdoor:EC2-C&CActivity.B"],
        "CreatedAt": "2026-12-01T08:00:00Z", "UpdatedAt": "2026-12-01T08:00:00Z",
        "Severity": {"Product": 8, "Normalized": 80, "Label": "HIGH"},
        "Title": finding["title"], "Description": finding["description"],
        "ProductFields": {"aws/securityhub/ProductName": "GuardDuty",
                          "aws/guardduty/service/action/actionType": "NETWORK_CONNECTION",
                          prefix + "connectionDirection": "OUTBOUND",
                          prefix + "remoteIpDetails/ipAddressV4": remote["ipAddressV4"],
                          prefix + "remotePortDetails/port": "443",
                          "aws/guardduty/service/count": "12"},
        "Resources": [{"Type": "AwsEc2Instance", "Partition": "aws", "Region": region,
                       "Id": f"arn:aws:ec2:{region}:{account}:instance/{instance}",
                       "Details": {"AwsEc2Instance": {"Type": "t3.medium"}}}],
        "RecordState": "ACTIVE", "Workflow": {"Status": "NEW"},
    }


SHAPES = {
    "finding": lambda f: f,
    "eventbridge-event": event,
    "event-without-envelope": lambda f: {"detail": f},
    "list-of-findings": lambda f: [f],
    "list-of-events": lambda f: [event(f)],
    "get-findings-response": lambda f: {"Findings": [pascal(f)]},
    "asff": asff,
    "security-hub-get-findings": lambda f: {"Findings": [asff(f)]},
}


def _write(tmp_path: Path, name: str, document: Any) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(document))
    return str(path)


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_reaches_a_plan_in_the_findings_account(
        shape: str, org: Any, collect_stand_in: Any, tmp_path: Path,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    instance = run_instance(org(MEMBER_A, "ec2", REGIONS[1]))
    finding = finding_for(instance, MEMBER_A, REGIONS[1])
    out = ircli(capsys, "triage", _write(tmp_path, shape, SHAPES[shape](copy.deepcopy(finding))),
                "--role-name", ROLE)
    assert out.code == 0, out.err
    assert out.data["runbook"] == "ec2-compromise"
    assert out.data["instance_id"] == instance
    assert out.data["status"] == "planned"
    assert out.data["triage"]["finding"]["account"] == MEMBER_A
    assert out.data["triage"]["finding"]["region"] == REGIONS[1]


def test_execute_contains_the_instance_in_the_member_account(
        org: Any, collect_stand_in: Any, tmp_path: Path,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    ec2 = org(MEMBER_A, "ec2", REGIONS[1])
    instance = run_instance(ec2)
    path = _write(tmp_path, "asff", asff(finding_for(instance, MEMBER_A, REGIONS[1])))
    out = ircli(capsys, "triage", path, "--execute", "--yes", "--role-name", ROLE)
    assert out.code == 0, out.err
    [eni] = ec2.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-id", "Values": [instance]}])["NetworkInterfaces"]
    assert [g["GroupName"] for g in eni["Groups"]] == ["ircli-isolation-endpoints"]


def test_several_findings_give_one_line_each_and_execute_runs_each(
        org: Any, collect_stand_in: Any, tmp_path: Path,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    ec2_a, ec2_b = org(MEMBER_A, "ec2", REGIONS[0]), org(MEMBER_B, "ec2", REGIONS[1])
    first, second = run_instance(ec2_a), run_instance(ec2_b)
    doc = [event(finding_for(first, MEMBER_A, REGIONS[0])),
           asff(finding_for(second, MEMBER_B, REGIONS[1])),
           {**finding_for("i-0aaaaaaaaaaaaaaaa", MEMBER_A, REGIONS[0]), "type": "Policy:S3/X"}]
    path = _write(tmp_path, "many", doc)
    plan = ircli(capsys, "triage", path, "--role-name", ROLE)
    assert plan.code == 2  # the third finding has no runbook: reported, not fatal
    rows = {t["target"]: t for t in plan.data["targets"]}
    assert (rows[first]["account"], rows[first]["region"]) == (MEMBER_A, REGIONS[0])
    assert (rows[second]["account"], rows[second]["region"]) == (MEMBER_B, REGIONS[1])
    assert rows[first]["runbook"] == rows[second]["runbook"] == "ec2-compromise"
    assert [t["status"] for t in plan.data["targets"]] == ["planned", "planned", "error"]
    text = ircli(capsys, "triage", path, "--role-name", ROLE, json_output=False)
    assert "Backdoor:EC2/C&CActivity.B" in text.out and "no runbook answers" in text.out

    done = ircli(capsys, "triage", path, "--role-name", ROLE, "--execute", "--yes")
    assert done.code == 2
    for ec2, instance in ((ec2_a, first), (ec2_b, second)):
        [eni] = ec2.describe_network_interfaces(Filters=[
            {"Name": "attachment.instance-id", "Values": [instance]}])["NetworkInterfaces"]
        assert [g["GroupName"] for g in eni["Groups"]] == ["ircli-isolation-endpoints"]


def test_findings_read_from_security_hub(org: Any, collect_stand_in: Any,  # noqa: F811
                                         capsys: pytest.CaptureFixture[str]) -> None:
    instance = run_instance(org(MEMBER_A, "ec2", REGIONS[0]))
    hub = boto3.client("securityhub", region_name=REGIONS[0])
    hub.batch_import_findings(Findings=[asff(finding_for(instance, MEMBER_A, REGIONS[0]))])
    out = ircli(capsys, "triage", "--from-security-hub", "--filter",
                f"AwsAccountId={MEMBER_A}", "--role-name", ROLE)
    assert out.code == 0, out.err
    assert out.data["instance_id"] == instance and out.data["runbook"] == "ec2-compromise"


def test_a_security_hub_finding_of_another_product_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], moto_aws: None) -> None:
    other = asff(finding_for("i-0aaaaaaaaaaaaaaaa", MEMBER_A, REGIONS[0]))
    other["ProductArn"] = "arn:aws:securityhub:us-east-1::product/aws/inspector"
    other["ProductFields"] = {"aws/securityhub/ProductName": "Inspector"}
    out = ircli(capsys, "triage", _write(tmp_path, "inspector", other))
    assert out.code == 2 and "not GuardDuty" in out.err
