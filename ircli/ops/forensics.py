"""``forensics check|share|key-policy``: the forensics account every member's evidence goes to."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from ircli.core.accounts import access_for, load_inventory
from ircli.core.case import open_case
from ircli.core.clock import Clock, iso
from ircli.core.engine import Emit, RunContext, run_steps
from ircli.core.errors import ExitCode, UserError
from ircli.core.session import AwsSession
from ircli.forensics.check import Checker
from ircli.forensics.key_policy import member_statements
from ircli.forensics.settings import ForensicsSettings
from ircli.ops.common import RunSummary, collect_warnings, record_run, run_result
from ircli.steps.forensic_copy import RECORD, ShareForensicCopies, recorded_copies

SessionFor = Callable[[str], AwsSession]  # target id -> a session where that target lives


def check(aws: AwsSession, settings: ForensicsSettings, role_name: str | None = None
          ) -> RunSummary:
    """One row per piece; exit 3 when any fails (the command runs; what it found is a gap)."""
    forensics_account = settings.account
    candidates = [a for a in load_inventory().ids() if a != forensics_account]
    member = candidates[0] if candidates else aws.identity()["account"]
    name = role_name or access_for(member).role_name
    rows = Checker(aws, settings, member, name).run()
    ok = all(r.status == "pass" for r in rows)
    data = {"command": "forensics check", "ok": ok, "forensics_account": forensics_account,
            "member_account_checked": member, "member_role_name": name,
            "checks": [r.to_dict() for r in rows]}
    return RunSummary(data, ExitCode.OK if ok else ExitCode.PARTIAL)


def key_policy(aws: AwsSession, organization_id: str, role_name: str) -> dict[str, Any]:
    """The statements the forensics key's policy needs (beside its administrators')."""
    return {"Version": "2012-10-17", "Statement": member_statements(
        aws.partition, aws.dns_suffix, organization_id, role_name)}


def share(session_for: SessionFor, clock: Clock, case_id: str, settings: ForensicsSettings,
          *, dry_run: bool = False, emit: Emit | None = None, bucket: str | None = None,
          reader: Callable[[], AwsSession] | None = None) -> RunSummary:
    """Copy and share every snapshot the case recorded, per instance, where each lives. A
    case only in ``bucket`` (the automation's) is fetched first, through ``reader``'s session
    (the forensics role for the central bucket, where members read nothing)."""
    settings.require()
    fetched = _fetch(case_id, settings, bucket, reader)
    case = open_case(case_id, clock.now(), create=False)
    targets = [tid for tid, t in sorted(case.data.get("targets", {}).items())
               if t.get("kind") == "instance" and (
                   t.get("snapshots") or (t.get("steps") or {}).get("snapshot"))]
    if not targets:
        raise UserError(f"Case {case_id} records no snapshots.",
                        "Run `ircli contain` (without --no-snapshot) for the instance first.")
    results: list[dict[str, Any]] = []
    warnings: list[str] = []
    failed = False
    with case.locked() if not dry_run else nullcontext():
        for target in targets:
            ctx = RunContext(session_for(target), clock, target, dry_run=dry_run, emit=emit)
            ctx.bind_case(case)
            ctx.facts["forensics"] = settings
            started = iso(clock.now())
            ctx.audit("run-start", command="forensics share", dry_run=dry_run,
                      options={"case_id": case_id})
            outcome = run_steps(ctx, [ShareForensicCopies()])
            failed = failed or outcome.failed
            status = "planned" if dry_run else "failed" if outcome.failed else "shared"
            data = run_result(ctx, "forensics share", status, outcome.steps, target=target)
            data["copies"] = recorded_copies(ctx.record)
            results.append(data)
            warnings += collect_warnings(ctx, outcome)
            record_run(ctx, "forensics share", status, started)
    warnings[:0] = fetched
    status = "planned" if dry_run else "partial" if failed else "shared"
    return RunSummary({"command": "forensics share", "case_id": case_id, "status": status,
                       "dry_run": dry_run, "forensics_account": settings.account,
                       "targets": results, "warnings": warnings,
                       "steps": [s for r in results for s in r["steps"]]},
                      ExitCode.PARTIAL if failed else ExitCode.OK, warnings)


def _fetch(case_id: str, settings: ForensicsSettings, bucket: str | None,
           reader: Callable[[], AwsSession] | None) -> list[str]:
    """Bring a case that is not on this machine from the bucket (its history checked, as
    release does): what the warnings say."""
    from ircli.ops.case_fetch import check_history, fetch_here, is_local, read_from_bucket

    if is_local(case_id) or not bucket or reader is None:
        return []
    aws = reader()
    if bucket == settings.bucket:
        from ircli.forensics.session import forensics_session

        aws = forensics_session(aws, settings, "ircli-forensics-share")
    check_history(aws, read_from_bucket(aws, bucket, case_id))
    found = fetch_here(aws, bucket, case_id)
    return [f"case {case_id} fetched from {found.where}"]


__all__ = ["RECORD", "check", "key_policy", "share"]
