"""The RDS runbook on the emulator: a public database with its own group; snapshot tagged,
deletion protection on, isolation group only, not public; converges; a dry-run changes
nothing; release restores exactly and keeps the snapshot."""

from __future__ import annotations

from typing import Any

import pytest

from ircli.ops.triage import finding_target
from ircli.runbook.library import all_runbooks
from ircli.triage.finding import parse_finding
from ircli.triage.match import match_runbook
from tests.families.conftest import sample
from tests.helpers import ircli

DB = "orders-db"


@pytest.fixture
def database(clients: Any) -> dict[str, str]:
    ec2 = clients("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24",
                                 AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "b"))]
    group = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    rds = clients("rds")
    rds.create_db_subnet_group(DBSubnetGroupName="db", DBSubnetGroupDescription="db",
                               SubnetIds=subnets)
    rds.create_db_instance(DBInstanceIdentifier=DB, DBInstanceClass="db.t3.micro",
                           Engine="mysql", MasterUsername="admin",
                           MasterUserPassword="Correct-Horse-9!", AllocatedStorage=20,
                           DBSubnetGroupName="db", VpcSecurityGroupIds=[group],
                           PubliclyAccessible=True)
    return {"vpc": vpc, "group": group}


def state(clients: Any) -> dict[str, Any]:
    db = clients("rds").describe_db_instances(DBInstanceIdentifier=DB)["DBInstances"][0]
    return {"groups": sorted(g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]),
            "public": db["PubliclyAccessible"], "protected": db.get("DeletionProtection")}


def manual(clients: Any) -> list[dict[str, Any]]:
    """ircli's snapshots (the emulator also makes an automated one at creation)."""
    return list(clients("rds").describe_db_snapshots(DBInstanceIdentifier=DB,
                                                     SnapshotType="manual")["DBSnapshots"])


def test_triage_picks_the_rds_runbook_and_the_database() -> None:
    finding = parse_finding(sample("rds-login"))
    match = match_runbook(finding, all_runbooks())
    assert match is not None and match.runbook.name == "rds-compromise"
    assert finding_target(finding, match.runbook) == DB


def test_contain_converge_and_release_exactly(capsys, clients, database, cli_clock,
                                              aws_env) -> None:
    before = state(clients)
    assert before == {"groups": [database["group"]], "public": True, "protected": False}
    dry = ircli(capsys, "runbook", "run", "rds-compromise", "--target", DB, "--dry-run")
    assert dry.code == 0, dry.err
    assert state(clients) == before and not (aws_env / "cases").exists()

    result = ircli(capsys, "runbook", "run", "rds-compromise", "--target", DB, "--yes",
                   "--case-id", "case-db")
    assert result.code == 0, result.err
    ec2 = clients("ec2")
    isolation = ec2.describe_security_groups(Filters=[
        {"Name": "group-name", "Values": [f"ircli-rds-isolation-{database['vpc']}"]}])[
        "SecurityGroups"][0]
    assert isolation["IpPermissions"] == [] and isolation["IpPermissionsEgress"] == []
    assert state(clients) == {"groups": [isolation["GroupId"]], "public": False,
                              "protected": True}
    snapshots = manual(clients)
    assert [s["DBSnapshotIdentifier"] for s in snapshots] == ["ircli-case-db-orders-db"]
    tags = {t["Key"]: t["Value"] for t in snapshots[0].get("TagList", [])}
    assert tags["ircli:case-id"] == "case-db"

    again = ircli(capsys, "runbook", "run", "rds-compromise", "--target", DB, "--yes",
                  "--case-id", "case-db")
    assert all(s["status"] == "already-done" for s in again.data["steps"]), again.data["steps"]
    assert len(manual(clients)) == 1

    released = ircli(capsys, "release", "--db", DB, "--yes")
    assert released.code == 0, released.err
    assert state(clients) == before
    assert len(manual(clients)) == 1  # the evidence stays
