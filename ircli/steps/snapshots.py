"""Crash-consistent EBS snapshots of every volume, in one ``CreateSnapshots`` call.

The snapshots carry the case id and instance id from their creation (``TagSpecifications``)
and the device from their volume (``CopyTagsFromSource``); re-runs find them by those tags.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import botocore.exceptions
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    retry_if_result,
    wait_exponential,
)

from ircli.aws.ec2 import tag_value
from ircli.core.awserrors import error_code
from ircli.core.engine import RunContext, stop_after_clock
from ircli.core.errors import StepFailed
from ircli.core.step import Call, CompileContext, Fragment, NotCompilable, Step, StepPlan, register
from ircli.steps.names import TAG_CASE, TAG_DEVICE, TAG_INSTANCE

SECONDS_PER_GIB = 60  # ceiling for --wait-snapshots, after AWS's guidance on snapshot speed
MIN_WAIT_SECONDS = 300


@register
class Snapshot(Step):
    """Snapshot every EBS volume; report instance-store volumes as not captured."""

    name = "snapshot"
    runbook_targets = ("instance",)
    title = "Snapshot the volumes"
    permissions = ("ec2:CreateSnapshots", "ec2:CreateSnapshot", "ec2:DescribeSnapshots",
                   "ec2:DescribeInstanceTypes", "ec2:CreateTags")

    def __init__(self, enabled: bool = True, wait: bool = False) -> None:
        self.enabled = enabled
        self.wait = wait

    def compile(self, cc: CompileContext) -> Fragment | None:
        from ircli.steps import asl_instance
        if not self.enabled:
            return None
        if self.wait:
            raise NotCompilable(self.name, "waiting for the snapshots to complete has no "
                                "compiled form yet (use wait: false)")
        return asl_instance.snapshot(cc.prefix, self.permissions)

    def plan(self, ctx: RunContext) -> StepPlan:
        if not self.enabled:
            return StepPlan(skip_reason="--no-snapshot: no snapshots taken")
        assert ctx.case is not None
        instance = ctx.facts["instance"]
        iid = instance["InstanceId"]
        volumes = {bdm["Ebs"]["VolumeId"]: bdm["DeviceName"]
                   for bdm in instance.get("BlockDeviceMappings", []) if "Ebs" in bdm}
        # The engine records a step ("applying") before it changes anything, so a case whose
        # record holds no snapshot step for this instance has taken none: no need to ask EC2
        # (a DescribeSnapshots per instance is among a fleet's dearest calls).
        existing = _case_snapshots(ctx, ctx.case.case_id, iid) \
            if self.record_key in ctx.record.get("steps", {}) else []
        plan = StepPlan()
        plan.warnings += _instance_store_warning(ctx, instance)
        missing = {vol: dev for vol, dev in volumes.items()
                   if vol not in {s["VolumeId"] for s in existing}}
        ctx.facts["snapshots"] = existing
        tags = [{"Key": TAG_CASE, "Value": ctx.case.case_id}, {"Key": TAG_INSTANCE, "Value": iid},
                {"Key": "Name", "Value": f"ircli {ctx.case.case_id} {iid}"}]
        description = f"ircli case {ctx.case.case_id}: {iid}"
        if missing and len(missing) == len(volumes):
            plan.calls.append(Call("ec2", "create_snapshots", {
                "InstanceSpecification": {"InstanceId": iid, "ExcludeBootVolume": False},
                "Description": description, "CopyTagsFromSource": "volume",
                "TagSpecifications": [{"ResourceType": "snapshot", "Tags": tags}]},
                f"crash-consistent snapshots of {len(volumes)} volume(s) in one call",
                dry_run=True, on_result=lambda r: ctx.facts["snapshots"].extend(r["Snapshots"])))
        else:
            for vol, dev in missing.items():
                plan.calls.append(Call("ec2", "create_snapshot", {
                    "VolumeId": vol, "Description": description,
                    "TagSpecifications": [{"ResourceType": "snapshot",
                                           "Tags": [*tags, {"Key": TAG_DEVICE, "Value": dev}]}]},
                    f"snapshot {vol} ({dev}), missing from the case's set", dry_run=True,
                    on_result=lambda r: ctx.facts["snapshots"].append(r)))
        if existing and not missing:
            plan.notes.append(f"{len(existing)} snapshot(s) already taken for this case")
        return plan

    def apply(self, ctx: RunContext, plan: StepPlan) -> None:
        for call in plan.calls:
            _with_snapshot_retries(partial(ctx.execute, call), ctx)
        self._fill_device_tags(ctx)
        if self.wait:
            wait_for_snapshots(ctx, ctx.facts["snapshots"])

    def after(self, ctx: RunContext) -> list[dict[str, Any]]:
        """The case's snapshots as the result shows them."""
        volumes = {bdm["Ebs"]["VolumeId"]: bdm["DeviceName"] for bdm in
                   ctx.facts.get("instance", {}).get("BlockDeviceMappings", []) if "Ebs" in bdm}
        return [{"snapshot_id": s["SnapshotId"], "volume_id": s["VolumeId"],
                 "device": volumes.get(s["VolumeId"]) or tag_value(s, TAG_DEVICE),
                 "size_gib": s.get("VolumeSize"), "state": s.get("State"),
                 "encrypted": s.get("Encrypted")} for s in ctx.facts.get("snapshots", [])]

    @staticmethod
    def _fill_device_tags(ctx: RunContext) -> None:
        """Add the device tag where ``CopyTagsFromSource`` did not bring it."""
        volumes = {bdm["Ebs"]["VolumeId"]: bdm["DeviceName"] for bdm in
                   ctx.facts["instance"].get("BlockDeviceMappings", []) if "Ebs" in bdm}
        for snap in ctx.facts["snapshots"]:
            device = volumes.get(snap["VolumeId"])
            if device and tag_value(snap, TAG_DEVICE) is None:
                ctx.execute(Call("ec2", "create_tags", {"Resources": [snap["SnapshotId"]],
                                 "Tags": [{"Key": TAG_DEVICE, "Value": device}]},
                                 f"tag {snap['SnapshotId']} with device {device}"))
                snap.setdefault("Tags", []).append({"Key": TAG_DEVICE, "Value": device})


def _case_snapshots(ctx: RunContext, case_id: str, iid: str) -> list[dict[str, Any]]:
    pages = ctx.aws.client("ec2").get_paginator("describe_snapshots").paginate(
        OwnerIds=["self"], Filters=[{"Name": f"tag:{TAG_CASE}", "Values": [case_id]},
                                    {"Name": f"tag:{TAG_INSTANCE}", "Values": [iid]}])
    return [s for page in pages for s in page["Snapshots"] if s.get("State") != "error"]


def _instance_store_warning(ctx: RunContext, instance: dict[str, Any]) -> list[str]:
    types = ctx.aws.client("ec2").describe_instance_types(
        InstanceTypes=[instance["InstanceType"]])["InstanceTypes"]
    storage = types[0].get("InstanceStorageInfo") if types else None
    if not storage:
        return []
    return [f"{instance['InstanceType']} has {storage.get('TotalSizeInGB')} GB of instance-store "
            "volumes: snapshots never capture them; collect what matters live."]


def _with_snapshot_retries(action: Callable[[], Any], ctx: RunContext) -> Any:
    """Retry AWS's snapshot throttles (concurrent limit) with backoff on the injected clock."""
    def retryable(err: BaseException) -> bool:
        return isinstance(err, botocore.exceptions.ClientError) and error_code(err) in (
            "ConcurrentSnapshotLimitExceeded", "SnapshotCreationPerVolumeRateExceeded")

    return Retrying(retry=retry_if_exception(retryable), wait=wait_exponential(1, max=30),
                    stop=stop_after_clock(ctx, 300), sleep=ctx.clock.sleep, reraise=True)(action)


def wait_for_snapshots(ctx: RunContext, snapshots: list[dict[str, Any]]) -> None:
    """Poll until every snapshot completes, with a ceiling that grows with the data size."""
    ids = [s["SnapshotId"] for s in snapshots]
    if not ids:
        return
    total_gib = sum(int(s.get("VolumeSize") or 1) for s in snapshots)
    timeout = max(MIN_WAIT_SECONDS, SECONDS_PER_GIB * total_gib)
    ec2 = ctx.aws.client("ec2")
    started = ctx.clock.monotonic()

    def poll() -> list[dict[str, Any]]:
        found = ec2.describe_snapshots(SnapshotIds=ids)["Snapshots"]
        done = sum(1 for s in found if s["State"] == "completed")
        ctx.emit("progress", step="snapshot", message=f"{done}/{len(ids)} snapshot(s) complete",
                 progress=[s.get("Progress") for s in found], deadline=timeout,
                 elapsed=round(ctx.clock.monotonic() - started, 1))
        if any(s["State"] == "error" for s in found):
            failed = [s["SnapshotId"] for s in found if s["State"] == "error"]
            raise StepFailed(f"Snapshot(s) {', '.join(failed)} failed in AWS.")
        return list(found)

    try:
        found = Retrying(
            retry=retry_if_result(lambda r: any(s["State"] != "completed" for s in r)),
            wait=wait_exponential(multiplier=2, max=30), stop=stop_after_clock(ctx, timeout),
            sleep=ctx.clock.sleep)(poll)
    except RetryError as err:
        raise StepFailed(
            f"Snapshots still pending after {timeout} s ({total_gib} GiB).",
            "They keep going in AWS; check later with `aws ec2 describe-snapshots`.") from err
    by_id = {s["SnapshotId"]: s for s in found}
    for snap in snapshots:
        snap.update(by_id.get(snap["SnapshotId"], {}))
