"""Evidence copies for the forensics account: each snapshot of the case, copied re-encrypted
under the forensics key, tagged, and shared with the forensics account only.

The copy is what travels, never the original: a snapshot under the default ``aws/ebs`` key
(which AWS never lets another account use) is copied under the forensics account's key, so it
can be shared like any other. The copy lands in the forensics region (``SourceRegion`` is the
snapshot's). What the step is about to do is written to the case before each copy starts, so a
re-run adopts a copy an interrupted run started (found by its tags *and* the case's record:
a snapshot that merely carries the tags is never shared). ``release`` never deletes a snapshot
or a copy: this step has no undo.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import botocore.exceptions
from tenacity import RetryError, Retrying, retry_if_exception, retry_if_result, wait_exponential

from ircli.aws.ec2 import tag_value
from ircli.core.awserrors import error_code
from ircli.core.clock import iso
from ircli.core.engine import RunContext, stop_after_clock
from ircli.core.errors import StepFailed
from ircli.core.permission import ANY_KMS_KEY, Permission, via_service
from ircli.core.step import (
    Call,
    CompileContext,
    Fragment,
    NotCompilable,
    Ref,
    Step,
    StepPlan,
    register,
    resolve_refs,
)
from ircli.forensics.settings import ForensicsSettings, load_forensics
from ircli.steps.names import TAG_CASE, TAG_DEVICE, TAG_INSTANCE
from ircli.steps.snapshots import MIN_WAIT_SECONDS, SECONDS_PER_GIB, wait_for_snapshots

TAG_PURPOSE = "ircli:purpose"
PURPOSE_FORENSIC_COPY = "forensic-copy"
TAG_SOURCE_SNAPSHOT = "ircli:source-snapshot"
TAG_SOURCE_VOLUME = "ircli:source-volume"
TAG_SOURCE_INSTANCE = "ircli:source-instance"  # not ircli:instance-id: the snapshot step
TAG_SOURCE_ACCOUNT = "ircli:source-account"    # finds the instance's own snapshots by that
RECORD = "forensic_copies"
SNAPSHOTS = "arn:{partition}:ec2:*::snapshot/*"
PERMISSION = "createVolumePermission"


def recorded_copies(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The copies a target's record holds (source snapshot id order)."""
    return [c for _src, c in sorted((record.get(RECORD) or {}).items())]


@register
class ShareForensicCopies(Step):
    """Copy each snapshot under the forensics key and share the copy with that account only."""

    name = "share-forensic-copies"
    runbook_targets = ("instance",)
    title = "Copy the snapshots to the forensics account"
    permissions = (
        "ec2:DescribeSnapshots", "ec2:DescribeSnapshotAttribute",
        Permission("ec2:CopySnapshot", SNAPSHOTS),
        Permission("ec2:CreateTags", SNAPSHOTS,
                   {"StringEquals": {"ec2:CreateAction": "CopySnapshot"}}),
        # only ircli's copies, and never public (no "all" group)
        Permission("ec2:ModifySnapshotAttribute", SNAPSHOTS, {
            "StringEquals": {f"aws:ResourceTag/{TAG_PURPOSE}": PURPOSE_FORENSIC_COPY},
            "StringNotEqualsIfExists": {"ec2:Add/group": "all"}}),
        Permission(("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey",
                    "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom",
                    "kms:ReEncryptTo"), ANY_KMS_KEY, via_service("ec2")),
    )

    def compile(self, cc: CompileContext) -> Fragment | None:
        """Nothing without a ``[forensics]`` account, as on the CLI. With one: the states of
        :mod:`ircli.steps.asl_forensic_copy`, for a machine in the forensics region (Step
        Functions calls CopySnapshot in its own region, and the copy is made where it is
        called); a machine known to be elsewhere is refused by name."""
        from ircli.steps import asl_forensic_copy

        settings = load_forensics(strict=False)
        if settings is None:
            return None
        problems = settings.problems()
        if problems:
            raise NotCompilable(self.name, "the forensics account is not fully configured ("
                                f"{'; '.join(problems)}); fix [forensics] (`ircli forensics "
                                "check`) and compile again")
        if cc.region is not None and cc.region != settings.region:
            raise NotCompilable(self.name, not_in_region(cc.region, settings.region))
        return asl_forensic_copy.share_forensic_copies(
            cc.prefix, account=settings.account, region=settings.region,
            key=settings.key_arn(cc.partition), permissions=self.permissions)

    def plan(self, ctx: RunContext) -> StepPlan:
        assert ctx.case is not None
        settings: ForensicsSettings | None = ctx.facts.get("forensics") or \
            load_forensics(strict=False)
        if settings is None:
            return StepPlan(skip_reason="no [forensics] account is configured: the snapshots "
                                        "stay in this account only")
        problems = settings.problems()
        if problems:
            raise StepFailed(f"The forensics account is not fully configured: "
                             f"{'; '.join(problems)}.", "Fix [forensics] in the ircli config "
                             "(`ircli forensics check`), then run `ircli forensics share "
                             f"{ctx.case.case_id}`.")
        account = ctx.aws.account
        if account == settings.account:
            return StepPlan(skip_reason="the snapshots already are in the forensics account")
        sources = _sources(ctx)
        if not sources:
            return StepPlan(skip_reason="the case records no snapshots of this instance")
        key = settings.key_arn(ctx.aws.partition)
        ec2 = ctx.aws.client("ec2", region=settings.region)
        record: dict[str, Any] = ctx.record.get(RECORD) or {}
        plan = StepPlan(data={"region": settings.region, "kms_key": key,
                              "forensics_account": settings.account})
        copies = _adopt(_tagged_copies(ec2, ctx.case.case_id), record, plan.warnings)
        waits = [s for s in sources if s.get("state") != "completed"]
        pending: dict[str, Any] = {"sources": waits, "copies": [], "region": settings.region}
        for source in sources:
            src = source["snapshot_id"]
            copy = copies.get(src)
            if copy is None:
                ref = Ref(f"forensic-copy/{src}")
                plan.calls.append(self._copy(ctx, source, settings, key, account))
                plan.calls.append(_share(ref, settings.account, "add",
                                         f"share the copy of {src} with account "
                                         f"{settings.account} only", dry_run=False))
                pending["copies"].append({"source": source, "ref": ref})
                continue
            if copy.get("State") != "completed":
                pending["copies"].append({"source": source, "id": copy["SnapshotId"],
                                          "size": copy.get("VolumeSize")})
            plan.calls += _reshare(ec2, copy["SnapshotId"], settings.account)
        plan.pending = pending
        plan.before = {"copies": {src: dict(entry) for src, entry in record.items()}}
        if not plan.calls:
            plan.notes.append(f"{len(sources)} copy(ies) already shared with account "
                              f"{settings.account} only")
        ctx.facts["forensics_settings"] = settings
        return plan

    @staticmethod
    def _copy(ctx: RunContext, source: dict[str, Any], settings: ForensicsSettings, key: str,
              account: str) -> Call:
        assert ctx.case is not None
        src, instance = source["snapshot_id"], source.get("instance_id") or ctx.target_id
        tags = [{"Key": TAG_CASE, "Value": ctx.case.case_id},
                {"Key": TAG_PURPOSE, "Value": PURPOSE_FORENSIC_COPY},
                {"Key": TAG_SOURCE_SNAPSHOT, "Value": src},
                {"Key": TAG_SOURCE_VOLUME, "Value": str(source.get("volume_id") or "unknown")},
                {"Key": TAG_DEVICE, "Value": str(source.get("device") or "unknown")},
                {"Key": TAG_SOURCE_INSTANCE, "Value": instance},
                {"Key": TAG_SOURCE_ACCOUNT, "Value": account},
                {"Key": "Name", "Value": f"ircli {ctx.case.case_id} copy of {src}"}]

        def recorded(response: dict[str, Any]) -> None:
            entry = ctx.record.setdefault(RECORD, {})[src]
            entry.update(copy_snapshot_id=response["SnapshotId"], status="copied",
                         copied_at=iso(ctx.clock.now()))
            ctx.save()

        return Call("ec2", "copy_snapshot", {
            "SourceSnapshotId": src, "SourceRegion": ctx.aws.region, "Encrypted": True,
            "KmsKeyId": key, "Description": f"ircli case {ctx.case.case_id}: {src} of "
                                            f"{instance} for forensics account "
                                            f"{settings.account}",
            "TagSpecifications": [{"ResourceType": "snapshot", "Tags": tags}]},
            f"copy {src} ({source.get('device') or 'unknown device'}, "
            f"{source.get('size_gib') or '?'} GiB) into {settings.region}, re-encrypted under "
            f"the forensics key {key}", dry_run=True,
            produces=(f"forensic-copy/{src}", "SnapshotId"), on_result=recorded)

    def apply(self, ctx: RunContext, plan: StepPlan) -> None:
        settings: ForensicsSettings = ctx.facts["forensics_settings"]
        pending = plan.pending
        if pending["sources"]:  # AWS copies only completed snapshots
            wait_for_snapshots(ctx, [{"SnapshotId": s["snapshot_id"],
                                      "VolumeSize": s.get("size_gib")}
                                     for s in pending["sources"]])
        ec2 = ctx.aws.client("ec2", region=settings.region)
        for call in (c for c in plan.calls if c.method == "copy_snapshot"):
            src = call.params["SourceSnapshotId"]
            ctx.record.setdefault(RECORD, {})[src] = {  # before the copy exists
                "source_snapshot_id": src, "copy_snapshot_id": None, "status": "copying",
                "region": settings.region, "kms_key": call.params["KmsKeyId"],
                "forensics_account": settings.account, "requested_at": iso(ctx.clock.now()),
                **{k: v for k, v in _source_of(pending, src).items()
                   if k in ("volume_id", "device", "size_gib")}}
            ctx.save()
            _with_copy_retries(partial(_execute_in, ctx, ec2, call), ctx)
        ids = [{"SnapshotId": c["id"] if "id" in c else ctx.values[c["ref"].name],
                "VolumeSize": c.get("size") or c["source"].get("size_gib")}
               for c in pending["copies"]]
        wait_for_copies(ctx, ec2, ids)
        for call in (c for c in plan.calls if c.method == "modify_snapshot_attribute"):
            _execute_in(ctx, ec2, call)
        self._record_final(ctx, ec2, settings)

    @staticmethod
    def _record_final(ctx: RunContext, ec2: Any, settings: ForensicsSettings) -> None:
        """What AWS now says about each copy: state, key, who may create volumes from it."""
        for entry in (ctx.record.get(RECORD) or {}).values():
            copy_id = entry.get("copy_snapshot_id")
            if not copy_id:
                continue
            found = ec2.describe_snapshots(SnapshotIds=[copy_id])["Snapshots"][0]
            perms = ec2.describe_snapshot_attribute(
                SnapshotId=copy_id, Attribute=PERMISSION)["CreateVolumePermissions"]
            entry.update(status="shared" if perms == [{"UserId": settings.account}]
                         else "not-shared", state=found.get("State"),
                         encrypted=found.get("Encrypted"), kms_key=found.get("KmsKeyId"),
                         shared_with=perms, checked_at=iso(ctx.clock.now()))
        ctx.save()


def not_in_region(region: str, forensics_region: str) -> str:
    """Why a machine in ``region`` cannot copy into ``forensics_region``, and what to do."""
    return (f"a state machine in {region} cannot copy snapshots into the forensics region "
            f"{forensics_region} (Step Functions calls CopySnapshot in the machine's own "
            "region, and AWS makes the copy where it is called); deploy the machine in "
            f"{forensics_region}, or run `ircli forensics share CASE` after it contains")


def _execute_in(ctx: RunContext, ec2: Any, call: Call) -> dict[str, Any]:
    """``ctx.execute`` with the client of the forensics region (the copy lands there; the
    dry-run proves the call in the session's region). Same session: the audit log sees it."""
    if ec2 is ctx.aws.client("ec2"):
        return ctx.execute(call)
    response: dict[str, Any] = getattr(ec2, call.method)(**resolve_refs(call.params,
                                                                        ctx.values))
    if call.produces is not None:
        ctx.values[call.produces[0]] = response[call.produces[1]]
    if call.on_result is not None:
        call.on_result(response)
    return response


def _share(snapshot: str | Ref, account: str, operation: str, summary: str, *,
           dry_run: bool = True, group: bool = False) -> Call:
    who = {"GroupNames": ["all"]} if group else {"UserIds": [account]}
    return Call("ec2", "modify_snapshot_attribute", {
        "SnapshotId": snapshot, "Attribute": PERMISSION, "OperationType": operation, **who},
        summary, dry_run=dry_run)


def _reshare(ec2: Any, copy_id: str, account: str) -> list[Call]:
    """Calls that leave exactly the forensics account on an existing copy's permission."""
    perms = ec2.describe_snapshot_attribute(SnapshotId=copy_id,
                                            Attribute=PERMISSION)["CreateVolumePermissions"]
    calls = []
    for perm in perms:
        if perm.get("Group") == "all":
            calls.append(_share(copy_id, account, "remove", f"make {copy_id} private again "
                                "(someone shared it publicly)", group=True))
        elif perm.get("UserId") and perm["UserId"] != account:
            calls.append(_share(copy_id, perm["UserId"], "remove",
                                f"stop sharing {copy_id} with account {perm['UserId']} "
                                "(not the forensics account)"))
    if {"UserId": account} not in perms:
        calls.append(_share(copy_id, account, "add",
                            f"share {copy_id} with account {account} only"))
    return calls


def _sources(ctx: RunContext) -> list[dict[str, Any]]:
    """The instance's snapshots: this run's (the snapshot step's facts), else the case's."""
    volumes = {bdm["Ebs"]["VolumeId"]: bdm["DeviceName"] for bdm in
               ctx.facts.get("instance", {}).get("BlockDeviceMappings", []) if "Ebs" in bdm}
    found = ctx.facts.get("snapshots")
    if found:
        return [{"snapshot_id": s["SnapshotId"], "volume_id": s.get("VolumeId"),
                 "device": volumes.get(s.get("VolumeId")) or tag_value(s, TAG_DEVICE),
                 "size_gib": s.get("VolumeSize"), "state": s.get("State"),
                 "instance_id": ctx.target_id} for s in found]
    recorded = ctx.record.get("snapshots")
    if recorded:
        return [{**s, "instance_id": ctx.target_id} for s in recorded]
    return _tagged_sources(ctx)


def _tagged_sources(ctx: RunContext) -> list[dict[str, Any]]:
    """A case whose record lists no snapshots (the automation's records only its snapshot
    step): the snapshots tagged with the case and instance, as the snapshot step tags them,
    of the instance's own volumes only (anyone may tag a snapshot of another volume)."""
    assert ctx.case is not None
    ec2 = ctx.aws.client("ec2")
    try:
        reservations = ec2.describe_instances(InstanceIds=[ctx.target_id])["Reservations"]
    except botocore.exceptions.ClientError as err:
        if error_code(err) == "InvalidInstanceID.NotFound":
            return []
        raise
    instance = reservations[0]["Instances"][0] if reservations else {}
    devices = {b["Ebs"]["VolumeId"]: b["DeviceName"]
               for b in instance.get("BlockDeviceMappings", []) if "Ebs" in b}
    pages = ec2.get_paginator("describe_snapshots").paginate(OwnerIds=["self"], Filters=[
        {"Name": f"tag:{TAG_CASE}", "Values": [ctx.case.case_id]},
        {"Name": f"tag:{TAG_INSTANCE}", "Values": [ctx.target_id]}])
    return [{"snapshot_id": s["SnapshotId"], "volume_id": s["VolumeId"],
             "device": devices[s["VolumeId"]], "size_gib": s.get("VolumeSize"),
             "state": s.get("State"), "instance_id": ctx.target_id}
            for page in pages for s in page["Snapshots"]
            if s.get("VolumeId") in devices and s.get("State") != "error"]


def _source_of(pending: dict[str, Any], src: str) -> dict[str, Any]:
    return next((c["source"] for c in pending["copies"]
                 if c["source"]["snapshot_id"] == src), {})


def _tagged_copies(ec2: Any, case_id: str) -> list[dict[str, Any]]:
    pages = ec2.get_paginator("describe_snapshots").paginate(OwnerIds=["self"], Filters=[
        {"Name": f"tag:{TAG_CASE}", "Values": [case_id]},
        {"Name": f"tag:{TAG_PURPOSE}", "Values": [PURPOSE_FORENSIC_COPY]}])
    return [s for page in pages for s in page["Snapshots"] if s.get("State") != "error"]


def _adopt(tagged: list[dict[str, Any]], record: dict[str, Any],
           warnings: list[str]) -> dict[str, dict[str, Any]]:
    """Source id -> copy, for copies the case recorded (by id, or as started by a run that
    stopped before it learnt the id). Anyone who may tag can make a snapshot look like a copy:
    such a snapshot is named and never shared."""
    copies: dict[str, dict[str, Any]] = {}
    for snap in tagged:
        src = tag_value(snap, TAG_SOURCE_SNAPSHOT)
        entry = record.get(src or "")
        ours = entry is not None and (entry.get("copy_snapshot_id") == snap["SnapshotId"] or (
            entry.get("copy_snapshot_id") is None and entry.get("status") == "copying"))
        if not ours or src is None or src in copies:
            warnings.append(f"{snap['SnapshotId']} carries this case's forensic-copy tags but "
                            "the case did not make it: left alone, not shared")
            continue
        if entry is not None and entry.get("copy_snapshot_id") is None:
            entry["copy_snapshot_id"] = snap["SnapshotId"]  # adopted on the next record
        copies[src] = snap
    return copies


def _with_copy_retries(action: Callable[[], Any], ctx: RunContext) -> Any:
    """AWS allows a few concurrent copies per account; retry its limit with backoff."""
    def retryable(err: BaseException) -> bool:
        return isinstance(err, botocore.exceptions.ClientError) and error_code(err) in (
            "ResourceLimitExceeded", "ConcurrentSnapshotLimitExceeded")

    return Retrying(retry=retry_if_exception(retryable), wait=wait_exponential(1, max=30),
                    stop=stop_after_clock(ctx, 300), sleep=ctx.clock.sleep, reraise=True)(action)


def wait_for_copies(ctx: RunContext, ec2: Any, copies: list[dict[str, Any]]) -> None:
    """Poll the copies (in the forensics region) until complete, with the snapshot step's
    size-aware ceiling; progress on the way."""
    ids = [c["SnapshotId"] for c in copies]
    if not ids:
        return
    total = sum(int(c.get("VolumeSize") or 1) for c in copies)
    timeout = max(MIN_WAIT_SECONDS, SECONDS_PER_GIB * total)
    started = ctx.clock.monotonic()

    def poll() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = ec2.describe_snapshots(SnapshotIds=ids)["Snapshots"]
        done = sum(1 for s in found if s["State"] == "completed")
        ctx.emit("progress", step=ShareForensicCopies.name,
                 message=f"{done}/{len(ids)} forensic copy(ies) complete",
                 progress=[s.get("Progress") for s in found], deadline=timeout,
                 elapsed=round(ctx.clock.monotonic() - started, 1))
        failed = [s["SnapshotId"] for s in found if s["State"] == "error"]
        if failed:
            raise StepFailed(f"Forensic copy(ies) {', '.join(failed)} failed in AWS.",
                             "The forensics key's policy must let this account's ircli role "
                             "use it through EBS (`ircli forensics check`).")
        return found

    try:
        Retrying(retry=retry_if_result(lambda r: any(s["State"] != "completed" for s in r)),
                 wait=wait_exponential(multiplier=2, max=30), stop=stop_after_clock(ctx, timeout),
                 sleep=ctx.clock.sleep)(poll)
    except RetryError as err:
        raise StepFailed(f"Forensic copies still pending after {timeout} s ({total} GiB).",
                         "They keep going in AWS; run `ircli forensics share CASE_ID` later to "
                         "share them.") from err
