"""Live response as a step: run the shipped collector through SSM, verify what reaches S3.

The plan reads only (is the agent online, is the document as shipped, does the bucket exist)
and lists the changes: the document deployment, if any, and the SendCommand. Applying mints a
presigned PUT URL for one key, sends, follows the command to its end, reads the object back,
and records a collection in the case only when S3 holds the size and sha256 the host reported.
``contain --collect`` appends this same step, and runbooks name it ``collect``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import botocore.exceptions

from ircli.aws.ec2 import describe_instance
from ircli.core.awserrors import describe, translate
from ircli.core.clock import iso
from ircli.core.config import evidence_bucket
from ircli.core.engine import RunContext
from ircli.core.step import (
    Call,
    CompileContext,
    Fragment,
    Ref,
    Step,
    StepPlan,
    register,
    resolve_refs,
)
from ircli.evidence.settings import central_account
from ircli.evidence.ship import CaseUploader, case_prefix
from ircli.forensics.session import upload_reader
from ircli.liveresponse.collection import (
    Collection,
    CollectSettings,
    collector_summary,
    url_lifetime,
)
from ircli.liveresponse.deploy import deploy_calls, inspect_document
from ircli.liveresponse.documents import load_document, resolve_parameters
from ircli.liveresponse.errors import CollectError
from ircli.liveresponse.invocation import (
    TERMINAL,
    delivery_timeout,
    not_finished,
    read_invocation,
    wait_budget,
    wait_for_invocation,
)
from ircli.liveresponse.reach import choose_os, ssm_reachability
from ircli.liveresponse.upload import (
    StoredObject,
    archive_key,
    bucket_region,
    check_single_upload,
    presign_put,
    read_back,
    require_bucket,
)

_URL = Ref("collect-upload-url")


@register
class Collect(Step):
    """Run the live-response collector on the instance and verify its archive in S3."""

    name = "collect"
    runbook_targets = ("instance",)
    title = "Collect live response"
    permissions = (
        "ec2:DescribeInstances", "ssm:DescribeInstanceInformation", "ssm:DescribeDocument",
        "ssm:GetDocument", "ssm:CreateDocument", "ssm:UpdateDocument",
        "ssm:UpdateDocumentDefaultVersion", "ssm:AddTagsToResource", "ssm:SendCommand",
        "ssm:GetCommandInvocation", "ssm:CancelCommand", "s3:ListBucket",
        "s3:ListBucketVersions",  # the host's key must have exactly one version
        "s3:PutObject",  # signs the presigned URL the host uploads with
        "s3:GetObject", "s3:GetObjectVersion",
    )

    def __init__(self, settings: CollectSettings | None = None, **options: Any) -> None:
        self.settings = settings or CollectSettings(**options)

    # -- plan ------------------------------------------------------------------------------
    def compile(self, cc: CompileContext) -> Fragment | None:
        """Left out of compiled runbooks: live response waits on an SSM command, uploads
        through presigned URLs ircli signs and verifies what comes back, none of which an SDK
        task can do. The automation contains; a responder runs `ircli collect` on the case."""
        return None

    def plan(self, ctx: RunContext) -> StepPlan:
        try:
            return self._plan(ctx)
        except Exception as err:
            _remember_failure(ctx, err, Collection("failed"))
            raise

    def _plan(self, ctx: RunContext) -> StepPlan:
        settings = self.settings
        settings.validate()
        assert ctx.case is not None, "collect needs the case bound (run after resolve)"
        instance = ctx.facts.get("instance") or describe_instance(ctx.aws, ctx.target_id)
        iid = instance["InstanceId"]
        state = instance.get("State", {}).get("Name")
        if state != "running":
            raise CollectError(
                "not-running", f"Instance {iid} is {state}; live response needs it running.",
                "Rely on the EBS snapshots, or start the instance if the investigation allows "
                "(starting it changes memory and disk).", started=False)
        # The step's own setting, else the run's --evidence-bucket (a runbook run), else the
        # environment and config file.
        bucket = require_bucket(settings.bucket or ctx.facts.get("evidence_bucket")
                                or evidence_bucket(strict=False))
        reach = ssm_reachability(ctx.aws, iid)
        os_name, warnings = choose_os(settings.os, instance, reach)
        document = inspect_document(ctx.aws.client("ssm"), os_name)
        deploy, version = deploy_calls(document, ctx.values)
        region, bucket_warnings = bucket_region(upload_reader(ctx.aws, bucket), bucket)
        key = archive_key(ctx.case.case_id, iid, ctx.clock.now(), taken=[
            str(e.get("key")) for e in ctx.record.get("collections", [])],
            account=central_account(bucket, ctx.case.data))
        parameters = settings.parameters(ctx.case.case_id)
        resolve_parameters(load_document(os_name), {**parameters, "UploadUrl": "https://x/y"})
        send = Call("ssm", "send_command", {
            "InstanceIds": [iid], "DocumentName": document.name, "DocumentVersion": version,
            "Parameters": {**{k: [v] for k, v in parameters.items()}, "UploadUrl": [_URL]},
            "TimeoutSeconds": delivery_timeout(settings.timeout),
            "Comment": f"ircli collect, case {ctx.case.case_id}"[:100]},
            f"run {document.name} on {iid} (sections {settings.sections}, timeout "
            f"{settings.timeout} s), upload to s3://{bucket}/{key}")
        collection = Collection("planned", os=os_name, document=document.name, bucket=bucket,
                                key=key, timeout_seconds=settings.timeout)
        ctx.facts["collection"] = collection.to_dict()
        if url_lifetime(settings.timeout) > 3600 and ctx.aws.settings.role_arn:
            warnings.append("the upload URL is signed with --role-arn session credentials, which "
                            "may expire before a collection this long uploads")
        if settings.include_memory:
            warnings.append("--include-memory: a single presigned PUT carries at most 5 GB, so a "
                            "compressed memory image larger than that fails to upload")
        said = {"create": "to be created", "update": "to get the shipped content",
                "set-default": f"default to move to version {document.matching_version}",
                "unchanged": f"as shipped (version {document.default_version})"}
        notes = [f"{os_name} collector {document.name} {said[document.action]}",
                 f"SSM agent {reach.ping_status or 'not checked'}"]
        return StepPlan(calls=[*deploy, send], notes=notes,
                        warnings=reach.warnings + warnings + bucket_warnings,
                        data={"os": os_name, "document": document.name, "bucket": bucket,
                              "key": key, "ssm": reach.to_dict()},
                        pending={"version": version, "region": region,
                                 "collection": collection})

    # -- apply -----------------------------------------------------------------------------
    def apply(self, ctx: RunContext, plan: StepPlan) -> None:
        collection: Collection = plan.pending["collection"]
        try:
            self._apply(ctx, plan, collection)
        except Exception as err:
            _remember_failure(ctx, err, collection)
            raise
        finally:
            ctx.facts["collection"] = collection.to_dict()
            if collection.command_id:
                _save(ctx, collection)

    def _apply(self, ctx: RunContext, plan: StepPlan, collection: Collection) -> None:
        settings, iid = self.settings, ctx.target_id
        *deploy, send = plan.calls
        for call in deploy:
            ctx.execute(call)
        assert collection.bucket and collection.key and collection.document
        seconds = url_lifetime(settings.timeout)
        ctx.values[_URL.name] = presign_put(ctx.aws, plan.pending["region"], collection.bucket,
                                            collection.key, seconds)
        resolve_parameters(load_document(str(collection.os)), resolve_refs(
            {k: v[0] for k, v in send.params["Parameters"].items()}, ctx.values))
        collection.document_version = str(resolve_refs(plan.pending["version"], ctx.values))
        collection.requested_at = iso(ctx.clock.now())
        collection.url_expires_at = iso(ctx.clock.now() + timedelta(seconds=seconds))
        collection.command_id = str(ctx.execute(send)["Command"]["CommandId"])
        collection.status = "sent"
        ctx.audit("collect-sent", command_id=collection.command_id, document=collection.document,
                  document_version=collection.document_version, bucket=collection.bucket,
                  key=collection.key, url_expires_at=collection.url_expires_at)
        _save(ctx, collection)
        if not settings.wait:
            return
        budget = wait_budget(settings.timeout)
        inv = wait_for_invocation(ctx, collection.command_id, iid, budget)
        collection.completed_at = iso(ctx.clock.now())
        if inv is None or inv.get("Status") not in TERMINAL:
            _cancel(ctx, collection.command_id, iid)
            raise not_finished(collection.command_id, iid, budget, inv)
        _judge(ctx, collection, inv, settings.timeout)


def _judge(ctx: RunContext, collection: Collection, inv: dict[str, Any], timeout: int) -> None:
    """Read the finished invocation, check the bucket, and record a verified archive."""
    iid = ctx.target_id
    assert collection.bucket and collection.key and ctx.case is not None
    collection.invocation = {"invocation_status": inv.get("Status"),
                             "status_details": inv.get("StatusDetails"),
                             "response_code": inv.get("ResponseCode")}
    collection.stderr_tail = str(inv.get("StandardErrorContent") or "")[-2000:] or None
    result = read_invocation(inv, iid, timeout)
    collection.collector = collector_summary(result)
    reader = upload_reader(ctx.aws, collection.bucket)  # members of a central bucket only write
    stored = read_back(reader, collection.bucket, collection.key)
    _verify(collection, result, stored, iid)
    assert stored is not None
    check_single_upload(reader, collection.bucket, collection.key, stored, result, iid)
    collection.version_id, collection.sha256, collection.size = (
        stored.version_id, stored.sha256, stored.size)
    incomplete = sum(int(result.get(k) or 0) for k in (
        "steps_failed", "steps_timed_out", "steps_skipped"))
    collection.status = "partial" if incomplete else "collected"
    if result["status"] == "upload_failed":  # S3 holds it all the same: trust the bucket
        ctx.warnings.append(f"the host reported its upload as failed (HTTP "
                            f"{result.get('upload_http')}), but S3 holds the archive it hashed")
    account = central_account(collection.bucket, ctx.case.data)
    CaseUploader(None, collection.bucket, ctx.case, account).add_remote({
        "key": collection.key,
        "path": collection.key.removeprefix(case_prefix(ctx.case.case_id, account)),
        "size": stored.size, "sha256": stored.sha256, "version_id": stored.version_id,
        "produced_by": "collect", "produced_at": collection.completed_at,
        "shipped_at": collection.completed_at,
        "source": f"{iid} via SSM command {collection.command_id}"})
    ctx.audit("collect-verified", command_id=collection.command_id, key=collection.key,
              version_id=stored.version_id, sha256=stored.sha256, size=stored.size,
              collector_status=result["status"])
    if collection.status == "partial":
        ctx.warnings.append(_partial_warning(collection))


def _verify(collection: Collection, result: dict[str, Any], stored: StoredObject | None,
            iid: str) -> None:
    """S3 must hold what the host reported; otherwise nothing is claimed collected."""
    where = f"s3://{collection.bucket}/{collection.key}"
    if stored is None:
        if result["status"] == "upload_failed":
            kept = result.get("archive_kept")
            raise CollectError(
                "upload-failed", f"The collector on {iid} could not upload its archive (HTTP "
                f"{result.get('upload_http')}: {str(result.get('upload_error') or '')[:200]}).",
                ("The archive is kept on the host at " + str(kept) + "; " if kept else "")
                + "check that the instance reaches S3 (isolation allows the S3 endpoint) and "
                "run collect again for a fresh URL.", collector=result)
        raise CollectError(
            "upload-missing", f"The collector on {iid} reported an upload, but {where} does "
            "not exist.", "Check the bucket's lifecycle and deletions (CloudTrail); run collect "
            "again.", collector=result)
    expected = (result.get("archive_size"), result.get("archive_sha256"))
    if (stored.size, stored.sha256) != expected:
        raise CollectError(
            "hash-mismatch", f"{where} (version {stored.version_id}) is {stored.size} bytes "
            f"with sha256 {stored.sha256}, not the {expected[0]} bytes and {expected[1]} the "
            "host reported.", "Treat the object as untrusted: list its versions (the URL may "
            "have been reused to overwrite it) and run collect again.", collector=result)


def _partial_warning(collection: Collection) -> str:
    c = collection.collector
    parts = [f"{name}: {', '.join(c.get(key) or [])}" for key, name in (
        ("failed_steps", "failed"), ("timed_out_steps", "timed out"),
        ("skipped_steps", "skipped")) if c.get(key)]
    return (f"collection is partial ({'; '.join(parts) or 'some sections incomplete'}); "
            f"the archive is verified and kept")


def _cancel(ctx: RunContext, command_id: str, instance_id: str) -> None:
    """Best effort: a command ircli gave up on should not run (and upload) later."""
    try:
        ctx.aws.client("ssm").cancel_command(CommandId=command_id, InstanceIds=[instance_id])
    except botocore.exceptions.ClientError as err:
        ctx.warnings.append(f"could not cancel command {command_id}: {describe(err)}")


def _remember_failure(ctx: RunContext, err: Exception, collection: Collection) -> None:
    """Keep the error (the operation maps it to an exit code) and the reason for the result."""
    ctx.facts["collect_error"] = err
    if isinstance(err, CollectError):
        collection.fail(err)
    else:
        known = translate(err)
        collection.status, collection.reason = "failed", "error"
        collection.message = known.message if known else describe(err)
        collection.remediation = known.remediation if known else None
    if collection.command_id:
        ctx.audit("collect-failed", command_id=collection.command_id, reason=collection.reason,
                  error=collection.message)
    ctx.facts["collection"] = collection.to_dict()


def _save(ctx: RunContext, collection: Collection) -> None:
    """The case's record of this collection (one entry per command) and its result file."""
    if ctx.case is None or ctx.dry_run:
        return
    entries: list[dict[str, Any]] = ctx.record.setdefault("collections", [])
    entry = collection.to_dict()
    for i, old in enumerate(entries):
        if old.get("command_id") == collection.command_id:
            entries[i] = entry
            break
    else:
        entries.append(entry)
    if collection.key and collection.status != "sent":
        path = ctx.case.path / collection.key.split("/", 2)[2].replace(".tar.gz", ".result.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(entry, indent=2, sort_keys=True) + "\n")
    ctx.save()
