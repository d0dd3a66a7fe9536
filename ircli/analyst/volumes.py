"""Evidence copies: a new volume from each of the case's snapshots, on the analyst instance.

The snapshots stay untouched (they are the evidence); the analyst works on copies, created in
the analyst's availability zone, always encrypted, and tagged with where they came from.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tenacity import RetryError, Retrying, retry_if_result, wait_exponential

from ircli.analyst import names as n
from ircli.analyst.kms import volume_encryption
from ircli.analyst.record import created_ids, remember
from ircli.aws.ec2 import tag_value
from ircli.core.case import Case
from ircli.core.engine import RunContext, stop_after_clock
from ircli.core.errors import StepFailed, UserError
from ircli.core.permission import ANY_KMS_KEY, Permission, via_service
from ircli.core.step import Call, Ref, Step, StepPlan, register, resolve_refs
from ircli.steps.names import TAG_CASE, TAG_DEVICE, TAG_INSTANCE
from ircli.steps.snapshots import wait_for_snapshots

VOLUME_SECONDS = 300
_ATTACHED = ("attaching", "attached")


def case_snapshots(case: Case, forensic: bool = False) -> list[dict[str, Any]]:
    """The snapshots containment recorded, with the suspect instance each came from; with
    ``forensic``, the copies shared with the forensics account instead (a member account's
    case seen from there: its originals are out of reach, by design)."""
    if forensic:
        return [{"snapshot_id": copy["copy_snapshot_id"],
                 "volume_id": copy.get("volume_id") or "unknown", "device": copy.get("device"),
                 "source_snapshot_id": copy.get("source_snapshot_id"), "instance_id": target_id}
                for target_id, target in sorted(case.data.get("targets", {}).items())
                for copy in (target.get("forensic_copies") or {}).values()
                if copy.get("copy_snapshot_id")]
    return [{**snap, "instance_id": target_id}
            for target_id, target in sorted(case.data.get("targets", {}).items())
            for snap in target.get("snapshots") or []]


def evidence_volumes(ctx: RunContext, case_id: str, analyst_ids: list[str] | None = None,
                     warnings: list[str] | None = None) -> list[dict[str, Any]]:
    """The case's evidence copies: volumes whose ids the case recorded when ircli created them
    *and* that still carry the case's evidence-copy tags. A volume that merely carries the tags
    (anyone may tag) is never attached, detached or deleted; it is named in ``warnings``."""
    ec2 = ctx.aws.client("ec2")
    recorded = {c["id"]: c for c in ctx.record.get("created", []) if c["kind"] == "volume"}
    mine = [vid for vid, c in recorded.items()
            if analyst_ids is None or c.get("analyst_instance") in analyst_ids]
    found: list[dict[str, Any]] = []
    if mine:
        found = [v for page in ec2.get_paginator("describe_volumes").paginate(
            Filters=[{"Name": "volume-id", "Values": mine}]) for v in page["Volumes"]]
    kept = []
    for volume in found:
        if tag_value(volume, TAG_CASE) != case_id or \
                tag_value(volume, n.TAG_PURPOSE) != n.PURPOSE_EVIDENCE_COPY:
            if warnings is not None:
                warnings.append(f"{volume['VolumeId']} was created by this case but its tags "
                                "no longer say so (someone changed them): left alone.")
            continue
        kept.append(volume)
    if warnings is not None:
        tagged = ec2.get_paginator("describe_volumes").paginate(Filters=[
            {"Name": f"tag:{TAG_CASE}", "Values": [case_id]},
            {"Name": f"tag:{n.TAG_PURPOSE}", "Values": [n.PURPOSE_EVIDENCE_COPY]}])
        warnings += [f"{v['VolumeId']} carries case {case_id}'s evidence-copy tags but the case "
                     "did not create it: left alone." for page in tagged for v in page["Volumes"]
                     if v["VolumeId"] not in recorded]
    return [v for v in kept if v["State"] not in ("deleting", "deleted")]


def _norm(device: str) -> str:
    """``/dev/xvdf`` and ``/dev/sdf`` name the same slot."""
    return device.replace("/dev/xvd", "/dev/sd")


@register
class AttachEvidence(Step):
    """Create (or find) one copy per snapshot and attach it at a free device name."""

    name = "analyst-attach"
    audience = "analyst"
    title = "Attach copies of the disks"
    critical = True
    validates_input = True
    permissions = ("ec2:DescribeSnapshots", "ec2:DescribeVolumes", "ec2:CreateVolume",
                   "ec2:AttachVolume", "ec2:CreateTags", "kms:DescribeKey",
                   Permission(("kms:CreateGrant", "kms:Decrypt",
                               "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom",
                               "kms:ReEncryptTo"), ANY_KMS_KEY, via_service("ec2")))

    def plan(self, ctx: RunContext) -> StepPlan:
        assert ctx.case is not None
        case_id = ctx.case.case_id
        analyst = ctx.facts["analysts"][0]
        iid, az = analyst["InstanceId"], analyst["Placement"]["AvailabilityZone"]
        forensic = bool(ctx.facts.get("forensic_copies"))
        sources = case_snapshots(ctx.case, forensic)
        if not sources and forensic:
            raise UserError(f"Case {case_id} records no copies shared with the forensics "
                            "account.", f"Run `ircli forensics share {case_id}` first.")
        if not sources:
            raise UserError(f"Case {case_id} records no snapshots.",
                            "Run `ircli contain` (without --no-snapshot) for the instance first.")
        snapshots = self._snapshots(ctx, [s["snapshot_id"] for s in sources])
        copies = {tag_value(v, n.TAG_SOURCE_SNAPSHOT): v
                  for v in evidence_volumes(ctx, case_id, [iid])}
        used = {_norm(m["DeviceName"]) for m in analyst.get("BlockDeviceMappings", [])}
        used |= {_norm(a["Device"]) for v in copies.values() for a in v.get("Attachments", [])}
        free = iter(d for d in n.DEVICES if d not in used)
        plan = StepPlan()
        for source in sources:
            snap_id = source["snapshot_id"]
            snapshot = snapshots.get(snap_id)
            if snapshot is None:
                plan.warnings.append(
                    f"Copy {snap_id} (of {source['volume_id']}) is in the case record but this "
                    "account cannot see it (not shared with it, or deleted); it was not "
                    "attached." if forensic else f"Snapshot {snap_id} (of "
                    f"{source['volume_id']}) is in the case record but no longer in AWS; it "
                    "was not attached.")
                continue
            copy = copies.get(snap_id)
            if copy is not None:
                self._existing(plan, copy, iid, free)
                continue
            self._create(ctx, plan, source, snapshot, iid, az, free)
        ctx.facts["snapshots_pending"] = [s for s in snapshots.values()
                                          if s["State"] != "completed"]
        if not plan.calls:
            plan.notes.append(f"all {len(copies)} evidence copies already attached to {iid}")
        return plan

    @staticmethod
    def _snapshots(ctx: RunContext, ids: list[str]) -> dict[str, dict[str, Any]]:
        pages = ctx.aws.client("ec2").get_paginator("describe_snapshots").paginate(
            Filters=[{"Name": "snapshot-id", "Values": ids}])
        return {s["SnapshotId"]: s for page in pages for s in page["Snapshots"]}

    @staticmethod
    def _existing(plan: StepPlan, copy: dict[str, Any], iid: str, free: Iterator[str]) -> None:
        vid = copy["VolumeId"]
        if any(a["InstanceId"] == iid and a["State"] in _ATTACHED
               for a in copy.get("Attachments", [])):
            return
        if copy["State"] != "available":
            plan.warnings.append(f"Evidence copy {vid} is {copy['State']}; it was not attached.")
            return
        device = next(free, None)
        if device is None:
            plan.warnings.append(f"No free device name on {iid} for {vid}.")
            return
        plan.calls.append(_attach(vid, iid, device))

    @staticmethod
    def _create(ctx: RunContext, plan: StepPlan, source: dict[str, Any],
                snapshot: dict[str, Any], iid: str, az: str, free: Iterator[str]) -> None:
        assert ctx.case is not None
        snap_id = snapshot["SnapshotId"]
        encryption, problem = volume_encryption(ctx, snapshot)
        if problem:
            plan.warnings.append(problem)
            return
        device = next(free, None)
        if device is None:
            plan.warnings.append(f"No free device name left on {iid} ({n.DEVICES[0]}-"
                                 f"{n.DEVICES[-1]}) for a copy of {snap_id}.")
            return
        original = source.get("device") or tag_value(snapshot, TAG_DEVICE) or "unknown"
        ref = Ref(f"volume/{snap_id}")
        extra = {n.TAG_SOURCE_SNAPSHOT: snap_id, n.TAG_SOURCE_VOLUME: snapshot["VolumeId"],
                 TAG_DEVICE: original, TAG_INSTANCE: source["instance_id"],
                 n.TAG_ANALYST_INSTANCE: iid}
        plan.calls += [
            Call("ec2", "create_volume", {
                "SnapshotId": snap_id, "AvailabilityZone": az, "VolumeType": "gp3",
                **encryption, "TagSpecifications": n.tag_spec("volume", n.tags(
                    f"ircli evidence {snap_id}", n.PURPOSE_EVIDENCE_COPY, ctx.case.case_id,
                    extra))},
                f"copy {snap_id} ({original} of {source['instance_id']}) to a new encrypted "
                f"volume in {az}", dry_run=True, produces=(ref.name, "VolumeId"),
                on_result=lambda r: remember(ctx, "volume", r["VolumeId"],
                                             snapshot_id=snap_id, analyst_instance=iid)),
            _attach(ref, iid, device)]

    def apply(self, ctx: RunContext, plan: StepPlan) -> None:
        if ctx.facts.get("snapshots_pending"):
            wait_for_snapshots(ctx, ctx.facts["snapshots_pending"])
        creates = [c for c in plan.calls if c.method == "create_volume"]
        for call in creates:
            ctx.execute(call)
        wait_for_volumes(ctx, [ctx.values[c.produces[0]] for c in creates if c.produces],
                         "available")
        for call in plan.calls:
            if call.method != "create_volume":
                ctx.execute(call)
        attached = [resolve_refs(c.params["VolumeId"], ctx.values) for c in plan.calls
                    if c.method == "attach_volume"]
        wait_for_volumes(ctx, attached, "in-use")
        plan.data = {"attached": attached}


def _attach(volume: str | Ref, iid: str, device: str) -> Call:
    shown = volume if isinstance(volume, str) else "the copy"
    return Call("ec2", "attach_volume", {"VolumeId": volume, "InstanceId": iid,
                                         "Device": device},
                f"attach {shown} to {iid} as {device}", dry_run=True)


def wait_for_volumes(ctx: RunContext, volume_ids: list[str], state: str) -> None:
    """Poll until every volume is in ``state``; a volume in ``error`` fails at once."""
    if not volume_ids:
        return
    ec2 = ctx.aws.client("ec2")

    def poll() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = ec2.describe_volumes(VolumeIds=volume_ids)["Volumes"]
        broken = [v["VolumeId"] for v in found if v["State"] == "error"]
        if broken:
            raise StepFailed(f"Volume(s) {', '.join(broken)} failed in AWS (state error).",
                             "An encrypted snapshot's KMS key that this identity may not use "
                             "(kms:CreateGrant, kms:Decrypt) is the usual cause.")
        return found

    try:
        Retrying(retry=retry_if_result(lambda vs: any(v["State"] != state for v in vs)),
                 wait=wait_exponential(1, max=15), stop=stop_after_clock(ctx, VOLUME_SECONDS),
                 sleep=ctx.clock.sleep)(poll)
    except RetryError as err:
        raise StepFailed(f"Volume(s) {', '.join(volume_ids)} not {state} after "
                         f"{VOLUME_SECONDS} s.", "Check them in the EC2 console, then run "
                         "the command again.") from err


@register
class DetachEvidence(Step):
    """Detach the case's evidence copies from its analysts and delete them; never snapshots."""

    name = "analyst-detach"
    audience = "analyst"
    title = "Detach, delete evidence copies"
    permissions = ("ec2:DescribeVolumes", "ec2:DetachVolume", "ec2:DeleteVolume")

    def __init__(self, delete: bool = True, only_given: bool = False) -> None:
        self.delete = delete
        self.only_given = only_given

    def plan(self, ctx: RunContext) -> StepPlan:
        assert ctx.case is not None
        analysts = [i["InstanceId"] for i in ctx.facts["analysts"]]
        plan = StepPlan()
        volumes = evidence_volumes(ctx, ctx.case.case_id,
                                   analysts if self.only_given else None, plan.warnings)
        for volume in volumes:
            vid = volume["VolumeId"]
            for attachment in volume.get("Attachments", []):  # else: delete once detached
                if attachment["State"] not in _ATTACHED:
                    continue
                if attachment["InstanceId"] not in analysts and \
                        attachment["InstanceId"] not in created_ids(ctx.record, "instance"):
                    plan.warnings.append(f"{vid} is attached to {attachment['InstanceId']}, "
                                         "not to an analyst instance of the case; left alone.")
                    break
                plan.calls.append(Call("ec2", "detach_volume", {
                    "VolumeId": vid, "InstanceId": attachment["InstanceId"]},
                    f"detach {vid} from {attachment['InstanceId']}", dry_run=True,
                    tolerate=("InvalidVolume.NotFound", "IncorrectState")))
            else:
                if self.delete:
                    plan.calls.append(Call("ec2", "delete_volume", {"VolumeId": vid},
                                           f"delete evidence copy {vid} (snapshot "
                                           f"{tag_value(volume, n.TAG_SOURCE_SNAPSHOT)} stays)",
                                           dry_run=True, tolerate=("InvalidVolume.NotFound",)))
        if not volumes:
            plan.notes.append("no evidence copies to remove")
        return plan

    def apply(self, ctx: RunContext, plan: StepPlan) -> None:
        detaches = [c for c in plan.calls if c.method == "detach_volume"]
        for call in detaches:
            ctx.execute(call)
        wait_for_volumes(ctx, [c.params["VolumeId"] for c in detaches], "available")
        for call in plan.calls:
            if call.method == "delete_volume":
                ctx.execute(call)
        plan.data = {"deleted": [c.params["VolumeId"] for c in plan.calls
                                 if c.method == "delete_volume"],
                     "detached": [c.params["VolumeId"] for c in detaches]}
        ctx.facts["deleted_volumes"] = plan.data["deleted"]


@register
class TerminateAnalyst(Step):
    """Terminate the case's analyst instance(s); their encrypted root volumes go with them."""

    name = "analyst-terminate"
    audience = "analyst"
    title = "Terminate the analyst instance"
    permissions = ("ec2:TerminateInstances",)

    def plan(self, ctx: RunContext) -> StepPlan:
        ids = [i["InstanceId"] for i in ctx.facts["analysts"]]
        if not ids:
            return StepPlan(notes=["no analyst instance running"])
        return StepPlan(calls=[Call("ec2", "terminate_instances", {"InstanceIds": ids},
                                    f"terminate {', '.join(ids)}", dry_run=True,
                                    on_result=lambda _: ctx.facts.update(terminated=ids))],
                        data={"terminated": ids})
