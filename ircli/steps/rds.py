"""Contain a compromised RDS DB instance: snapshot it, protect it from deletion, cut it off
the network (an isolation security group, no public address). Data is never changed.

The isolation group is one per VPC with a fixed name, reused on every run (idempotent), with
no ingress rule and its default egress rule removed. Release restores the recorded groups,
public accessibility and deletion protection; the snapshot stays, as evidence.
"""

from __future__ import annotations

import re
from typing import Any

import botocore.exceptions

from ircli.core.awserrors import error_code
from ircli.core.engine import RunContext
from ircli.core.errors import InvalidInput
from ircli.core.step import Call, Ref, Step, StepPlan, register
from ircli.steps.names import TAG_CASE
from ircli.steps.resource_change import RecordPreState

_DB = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}$")


def check_db_identifier(name: str) -> str:
    if not _DB.match(name):
        raise InvalidInput(f"'{name}' is not an RDS DB instance identifier.",
                           "Pass the DB instance identifier (letters, digits, hyphens).")
    return name


def isolation_group_name(vpc: str) -> str:
    return f"ircli-rds-isolation-{vpc}"


def _db(ctx: RunContext) -> dict[str, Any]:
    return dict(ctx.facts["db"])


def db_state(db: dict[str, Any]) -> dict[str, Any]:
    return {"db": db["DBInstanceIdentifier"], "arn": db.get("DBInstanceArn"),
            "engine": db.get("Engine"), "vpc": (db.get("DBSubnetGroup") or {}).get("VpcId"),
            "security_groups": sorted(g["VpcSecurityGroupId"]
                                      for g in db.get("VpcSecurityGroups", [])),
            "publicly_accessible": bool(db.get("PubliclyAccessible")),
            "deletion_protection": bool(db.get("DeletionProtection"))}


@register
class RecordDb(RecordPreState):
    """Write the instance's network and protection settings to the case."""

    name = "record-db"
    title = "Record the database's network and protection settings"
    permissions = ("rds:DescribeDBInstances",)

    def record(self, ctx: RunContext) -> StepPlan:
        state = db_state(_db(ctx))
        return StepPlan(before=state, notes=[
            f"groups {', '.join(state['security_groups']) or 'none'}, "
            f"{'public' if state['publicly_accessible'] else 'private'}"])


@register
class SnapshotDb(Step):
    """A manual snapshot, tagged with the case, once per case."""

    name = "db-snapshot"
    title = "Snapshot the database (manual, tagged)"
    permissions = ("rds:DescribeDBSnapshots", "rds:CreateDBSnapshot", "rds:AddTagsToResource")
    runbook_targets = ("db",)

    def plan(self, ctx: RunContext) -> StepPlan:
        assert ctx.case is not None
        db = _db(ctx)["DBInstanceIdentifier"]
        snapshot = f"ircli-{ctx.case.case_id}-{db}"[:255]
        try:
            ctx.aws.client("rds").describe_db_snapshots(DBSnapshotIdentifier=snapshot)
            return StepPlan(notes=[f"snapshot {snapshot} exists"], data={"snapshot": snapshot})
        except botocore.exceptions.ClientError as err:
            if error_code(err) != "DBSnapshotNotFound":
                raise
        return StepPlan(data={"snapshot": snapshot}, calls=[Call("rds", "create_db_snapshot", {
            "DBInstanceIdentifier": db, "DBSnapshotIdentifier": snapshot,
            "Tags": [{"Key": TAG_CASE, "Value": ctx.case.case_id}]},
            f"snapshot {db} as {snapshot}")])


@register
class IsolateDb(Step):
    """Deletion protection on, public accessibility off, the isolation group only."""

    name = "db-isolate"
    title = "Protect the database and cut it off the network"
    permissions = ("ec2:DescribeSecurityGroups", "ec2:CreateSecurityGroup",
                   "ec2:RevokeSecurityGroupEgress", "ec2:CreateTags", "rds:ModifyDBInstance")
    undo_permissions = ("rds:ModifyDBInstance",)
    runbook_targets = ("db",)
    critical = True

    def plan(self, ctx: RunContext) -> StepPlan:
        state = db_state(_db(ctx))
        vpc = state["vpc"]
        if not vpc:
            return StepPlan(skip_reason="the database is not in a VPC")
        ec2 = ctx.aws.client("ec2")
        name = isolation_group_name(vpc)
        found = ec2.describe_security_groups(Filters=[
            {"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": [name]}])[
            "SecurityGroups"]
        plan = StepPlan(before=state)
        group: str | Ref
        if found:
            group = found[0]["GroupId"]
        else:
            group = Ref("db_isolation_group")
            plan.calls.append(Call("ec2", "create_security_group", {
                "GroupName": name, "VpcId": vpc,
                "Description": "ircli: no traffic in or out of a contained database"},
                f"create isolation group {name}", produces=("db_isolation_group", "GroupId")))
            plan.calls.append(Call("ec2", "revoke_security_group_egress", {
                "GroupId": group, "IpPermissions": [{"IpProtocol": "-1",
                                                     "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]},
                f"remove the default egress rule of {name}"))
        if (state["security_groups"] == [group] and not state["publicly_accessible"]
                and state["deletion_protection"]):
            plan.notes.append("already isolated and protected")
            return plan
        plan.calls.append(Call("rds", "modify_db_instance", {
            "DBInstanceIdentifier": state["db"], "VpcSecurityGroupIds": [group],
            "PubliclyAccessible": False, "DeletionProtection": True, "ApplyImmediately": True},
            f"isolate {state['db']}: isolation group only, not public, deletion protection on"))
        plan.warnings.append("Connections the database already has may stay open until they "
                             "close; applications using it stop.")
        return plan

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        before = record["before"]
        return StepPlan(calls=[Call("rds", "modify_db_instance", {
            "DBInstanceIdentifier": before["db"],
            "VpcSecurityGroupIds": before["security_groups"],
            "PubliclyAccessible": before["publicly_accessible"],
            "DeletionProtection": before["deletion_protection"], "ApplyImmediately": True},
            f"restore the recorded groups, public accessibility and deletion protection of "
            f"{before['db']}")])
