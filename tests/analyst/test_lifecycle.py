"""Re-runs create nothing; detach and terminate remove what ircli made and keep the evidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ircli.analyst import names as n
from ircli.catalog.steps import all_steps
from ircli.core.permission import action_names
from ircli.evidence.shipper import CaseShipper
from tests.analyst.conftest import BUCKET, CASE, RunCli, Scene, launch_args, problems

ATTACH = ("analyst", "attach", "--case-id", CASE, "--yes")


def inventory(clients: Any) -> dict[str, Any]:
    """Everything launch and attach may create, comparable across runs."""
    ec2, iam = clients("ec2"), clients("iam")
    live = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"]
            for i in r["Instances"] if i["State"]["Name"] != "terminated"]
    return {
        "instances": sorted(live),
        "vpcs": sorted(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]),
        "subnets": sorted(s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]),
        "route_tables": sorted(t["RouteTableId"] for t in ec2.describe_route_tables()[
            "RouteTables"]),
        "groups": sorted((g["GroupId"], json.dumps(g["IpPermissions"], sort_keys=True),
                          json.dumps(g["IpPermissionsEgress"], sort_keys=True))
                         for g in ec2.describe_security_groups()["SecurityGroups"]),
        "endpoints": sorted(e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints()[
            "VpcEndpoints"]),
        "volumes": sorted((v["VolumeId"], v["State"]) for v in ec2.describe_volumes()[
            "Volumes"]),
        "roles": sorted(r["RoleName"] for r in iam.list_roles()["Roles"]),
        "profiles": sorted(p["InstanceProfileName"] for p in iam.list_instance_profiles()[
            "InstanceProfiles"]),
        "bucket_policy": clients("s3").get_bucket_policy(Bucket=BUCKET)["Policy"],
    }


def copies(clients: Any) -> list[dict[str, Any]]:
    return list(clients("ec2").describe_volumes(Filters=[
        {"Name": "tag:ircli:purpose", "Values": [n.PURPOSE_EVIDENCE_COPY]}])["Volumes"])


def test_dry_run_changes_nothing_and_launch_and_attach_twice_create_nothing_new(
        clients: Any, cli: RunCli, scene: Scene) -> None:
    untouched = inventory(clients)
    code, plan = cli(*launch_args("--create-network", "--dry-run"))
    assert code == 0 and plan["status"] == "planned", problems(plan)
    assert inventory(clients) == untouched
    assert not [w for s in plan["steps"] for w in s["warnings"] if "would fail" in w]
    changes = [c for s in plan["steps"] for c in s["changes"]]
    assert any("create VPC ircli-forensic-vpc" in c for c in changes)
    assert any(c.startswith("launch t3.large") for c in changes)
    code, first = cli(*launch_args("--create-network"))
    assert code == 0, problems(first)
    code, data = cli(*ATTACH)
    assert code == 0, problems(data)
    before = inventory(clients)
    code, again = cli(*launch_args("--create-network"))
    assert code == 0, problems(again)
    code, data = cli(*ATTACH)
    assert code == 0, problems(data)
    assert inventory(clients) == before
    assert again["analyst_instance_id"] == first["analyst_instance_id"]
    assert [s["status"] for s in again["steps"]] == ["already-done"] * 5
    assert [s["status"] for s in data["steps"]] == ["done", "already-done"]
    assert len(data["volumes"]) == 3


def test_new_launches_a_second_instance_and_attach_then_asks_which(
        clients: Any, cli: RunCli, scene: Scene) -> None:
    code, first = cli(*launch_args("--create-network"))
    assert code == 0, problems(first)
    code, second = cli(*launch_args("--create-network", "--new"))
    assert code == 0, problems(second)
    assert second["analyst_instance_id"] != first["analyst_instance_id"]
    code, data = cli(*ATTACH)
    assert code == 2 and "--instance-id" in data["error"]["remediation"]
    code, data = cli(*ATTACH, "--instance-id", second["analyst_instance_id"])
    assert code == 0, problems(data)
    assert {v["volume_id"] for v in data["volumes"]} == {
        v["VolumeId"] for v in copies(clients)}


def test_detach_keep_volumes_then_attach_reuses_the_copies(clients: Any, cli: RunCli,
                                                          scene: Scene) -> None:
    cli(*launch_args("--create-network"))
    code, data = cli(*ATTACH)
    assert code == 0, problems(data)
    made = sorted(v["VolumeId"] for v in copies(clients))
    code, data = cli("analyst", "detach", "--case-id", CASE, "--yes", "--keep-volumes")
    assert code == 0, problems(data)
    assert {v["State"] for v in copies(clients)} == {"available"}
    code, data = cli(*ATTACH)
    assert code == 0, problems(data)
    assert sorted(v["volume_id"] for v in data["volumes"]) == made
    assert {v["State"] for v in copies(clients)} == {"in-use"}


def test_terminate_removes_instance_and_copies_and_keeps_the_evidence(
        clients: Any, cli: RunCli, scene: Scene, api_calls: list[str]) -> None:
    code, launched = cli(*launch_args("--create-network"))
    assert code == 0, problems(launched)
    code, data = cli(*ATTACH)
    assert code == 0, problems(data)
    ec2 = clients("ec2")
    made = {v["VolumeId"] for v in copies(clients)}
    code, data = cli("analyst", "terminate", "--case-id", CASE, "--yes")
    assert code == 0, problems(data)
    iid = launched["analyst_instance_id"]
    state = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0][
        "State"]["Name"]
    assert state in ("shutting-down", "terminated")
    assert sorted(data["deleted_volumes"]) == sorted(made)
    assert copies(clients) == []
    snapshot_ids = [s["snapshot_id"] for s in scene.snapshots]
    kept = ec2.describe_snapshots(SnapshotIds=snapshot_ids)["Snapshots"]
    assert sorted(s["SnapshotId"] for s in kept) == sorted(snapshot_ids)
    assert data["snapshots_kept"] == [s["snapshot_id"] for s in scene.snapshots]
    assert f"vpc {launched['vpc_id']}" in data["left_for_reuse"]
    assert clients("s3").head_bucket(Bucket=BUCKET)
    audit = Path(data["case_dir"], "audit.jsonl").read_text().splitlines()
    operations = {json.loads(line).get("operation") for line in audit}
    assert not operations & {"DeleteSnapshot", "DeleteObject", "DeleteObjects",
                             "DeleteBucket", "DeleteBucketPolicy"}
    assert {"TerminateInstances", "DetachVolume", "DeleteVolume"} <= operations
    code, data = cli("analyst", "terminate", "--case-id", CASE, "--yes")
    assert code == 0 and data["terminated"] == [] and data["deleted_volumes"] == []
    code, again = cli(*launch_args("--create-network"))
    assert code == 0, problems(again)
    assert again["analyst_instance_id"] != iid
    case = json.loads(Path(again["case_dir"], "case.json").read_text())
    created = case["targets"]["analyst"]["created"]
    assert [c["id"] for c in created if c["kind"] == "instance"] == [
        iid, again["analyst_instance_id"]]
    assert {c["kind"] for c in created} >= {"vpc", "subnet", "route-table", "security-group",
                                           "vpc-endpoint", "iam-role", "instance-profile",
                                           "volume"}
    assert_declared(api_calls)


# IAM actions whose name differs from the API operation's.
_ACTION_OF = {"s3:GetBucketEncryption": "s3:GetEncryptionConfiguration"}


def assert_declared(calls: list[str]) -> None:
    """Every call the analyst commands made is among the permissions their steps declare."""
    declared = {p for name, step in all_steps().items() if name.startswith("analyst-")
                for p in action_names((*step.permissions, *step.undo_permissions))} \
        | set(action_names(CaseShipper.permissions))
    # GetCallerIdentity needs no permission.
    made = {_ACTION_OF.get(c, c) for c in calls} - {"sts:GetCallerIdentity"}
    assert made and made - declared == set()
