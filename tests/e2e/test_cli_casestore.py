"""The case lives in the evidence bucket: contained from one responder's machine (IRCLI_HOME
A), released from another that never saw it (a fresh IRCLI_HOME B, the same bucket) — the
real CLI against a moto server over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ircli.lab.web_compromise import seed_web_compromise
from tests.helpers import eni_groups, tags

pytestmark = pytest.mark.e2e

BUCKET = "ircli-e2e-casestore"


def _picture(clients: Any, lab: Any) -> dict[str, Any]:
    """Everything containment changes on the suspect and release must put back."""
    ec2 = clients("ec2")
    instance = ec2.describe_instances(InstanceIds=[lab.suspect])["Reservations"][0][
        "Instances"][0]

    def attribute(name: str, field: str) -> Any:
        return ec2.describe_instance_attribute(InstanceId=lab.suspect, Attribute=name)[
            field]["Value"]

    addresses = ec2.describe_addresses(AllocationIds=[lab.eip_allocation])["Addresses"]
    asg = clients("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[lab.asg])["AutoScalingGroups"][0]
    health = clients("elbv2").describe_target_health(TargetGroupArn=lab.target_group_arn)
    iam = clients("iam")
    return {
        "groups": eni_groups(ec2, lab.suspect_enis),
        "tags": {k: v for k, v in tags(instance).items() if not k.startswith("ircli:")},
        "ircli_status": tags(instance).get("ircli:status"),
        "protected": attribute("disableApiTermination", "DisableApiTermination"),
        "shutdown": attribute("instanceInitiatedShutdownBehavior",
                              "InstanceInitiatedShutdownBehavior"),
        "eip": [a.get("InstanceId") for a in addresses],
        "in_asg": lab.suspect in {i["InstanceId"] for i in asg["Instances"]},
        "in_target_group": lab.suspect in {d["Target"]["Id"] for d in
                                           health["TargetHealthDescriptions"]},
        "role_policies": sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(
            RoleName=lab.role)["AttachedPolicies"]),
        "profile": instance.get("IamInstanceProfile", {}).get("Arn"),
    }


def test_contained_on_one_machine_released_from_another(
        ircli: Any, server_clients: Any, tmp_path: Path) -> None:
    lab = seed_web_compromise(server_clients, "us-east-1")
    home_a, home_b = str(tmp_path / "laptop-a"), str(tmp_path / "laptop-b")
    made = ircli("evidence", "init", "-y", "--bucket", BUCKET, "--analyst-role-arn",
                 "arn:aws:iam::123456789012:role/Analyst", env={"IRCLI_HOME": home_a})
    assert made.code == 0, made.stderr
    # moto evaluates no policy conditions: see tests/evidence/conftest.py
    server_clients("s3").delete_bucket_policy(Bucket=BUCKET)
    before = _picture(server_clients, lab)

    contained = ircli("contain", lab.suspect, "--yes", "--no-snapshot", "--evidence-bucket",
                      BUCKET, "-o", "json", env={"IRCLI_HOME": home_a})
    assert contained.code == 0, contained.stderr
    case_id = contained.json()["case_id"]
    assert contained.json()["evidence"]["shipped"] is True
    assert _picture(server_clients, lab)["groups"] != before["groups"]

    listed = ircli("case", "list", "--bucket", BUCKET, "-o", "json", env={"IRCLI_HOME": home_b})
    assert listed.code == 0, listed.stderr
    (row,) = listed.json()["cases"]
    assert row["case_id"] == case_id and row["statuses"] == ["contained"]
    assert row["opened_by"].startswith("cli:") and row["prefix"] == f"cases/{case_id}/"

    # Laptop B has no case at all: release finds it by the instance's tag, in the bucket.
    assert not Path(home_b, "cases", case_id).exists()
    released = ircli("release", lab.suspect, "--yes", "--evidence-bucket", BUCKET, "-o", "json",
                     env={"IRCLI_HOME": home_b})
    assert released.code == 0, released.stderr
    data = released.json()
    assert data["status"] == "released" and data["case_id"] == case_id
    assert f"case {case_id} fetched from s3://{BUCKET}/cases/{case_id}/" in data["warnings"]
    assert "Traceback" not in released.stderr
    # restored exactly (release marks the instance released, and re-attaching it to its
    # Auto Scaling group raises the desired capacity by one, as AWS does: see README)
    assert _picture(server_clients, lab) == {**before, "ircli_status": "released"}

    shown = ircli("case", "show", case_id, "--bucket", BUCKET, "-o", "json",
                  env={"IRCLI_HOME": home_a})
    assert shown.json()["targets"][lab.suspect]["status"] == "released"
    verified = ircli("evidence", "verify", case_id, "--evidence-bucket", BUCKET, "-o", "json",
                     env={"IRCLI_HOME": home_b})
    assert verified.code == 0, verified.stdout
    audit = next(o for o in verified.json()["objects"] if o["key"].endswith("/audit/"))
    lines_a = Path(home_a, "cases", case_id, "audit.jsonl").read_bytes().splitlines()
    lines_b = Path(home_b, "cases", case_id, "audit.jsonl").read_bytes().splitlines()
    assert lines_b[:len(lines_a)] == lines_a  # B extended A's chain, not restarted it
    assert audit["version_id"] == f"{len(lines_b)} entries"  # every line of both, once

    # A fresh machine's `case show` without --bucket fetches it and says so.
    home_c = str(tmp_path / "laptop-c")
    shown = ircli("case", "show", case_id, "--evidence-bucket", BUCKET,
                  env={"IRCLI_HOME": home_c})
    assert shown.code == 0, shown.stderr
    assert f"case {case_id} fetched from s3://{BUCKET}/cases/{case_id}/" in shown.stderr
    assert Path(home_c, "cases", case_id, "case.json").exists()
