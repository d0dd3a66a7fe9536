"""`ircli evidence init|check|sync|verify`: the evidence bucket and the chain of custody."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ircli.cli.complete import complete_case_id
from ircli.cli.main import aws_session
from ircli.cli.options import GlobalOptions, global_options
from ircli.cli.output import emit_json
from ircli.core.errors import ExitCode

if TYPE_CHECKING:  # imported by `ircli --help`: rich only when rendering
    from rich.console import Console

_STATUS = {"pass": "[green]pass[/]", "fail": "[red]FAIL[/]", "warn": "[yellow]warn[/]"}


def _bucket(opts: GlobalOptions, bucket: str | None) -> str:
    from ircli.core.config import require_evidence_bucket

    return require_evidence_bucket(bucket or opts.evidence_bucket)


def _spec_options(f: Any) -> Any:
    for decorator in reversed([
        click.option("--bucket", help="The evidence bucket (default: --evidence-bucket, "
                                      "IRCLI_EVIDENCE_BUCKET, or the config file)."),
        click.option("--kms-key-id", help="KMS key for default SSE-KMS encryption."),
        click.option("--analyst-role-arn", "analyst_role_arns", multiple=True,
                     help="Role that may read the evidence (repeatable)."),
        click.option("--responder-role-arn", help="Role that may write the evidence "
                                                  "(default for init: the caller's role)."),
        click.option("--break-glass-role-arn",
                     help="The one role allowed to change the bucket's policy, Object Lock, "
                          "versioning and lifecycle (default: IRCLI_EVIDENCE_BREAK_GLASS_ROLE, "
                          "or [evidence] break_glass_role; none: only the account root)."),
    ]):
        f = decorator(f)
    return f


_SIGNING_KEY = click.option(
    "--signing-key", help="KMS signing key (ARN) of the anchors (default: "
                          "IRCLI_EVIDENCE_SIGNING_KEY, or [evidence] signing_key in the config).")


@click.group("evidence")
@global_options
def evidence_group() -> None:
    """The evidence bucket (Object Lock, locked-down policy) and case custody in it."""


@evidence_group.command("init")
@_spec_options
@click.option("--retention-days", type=click.IntRange(1, 36500), default=90, show_default=True,
              help="Default Object Lock retention.")
@click.option("--retention-mode", type=click.Choice(["GOVERNANCE", "COMPLIANCE"]),
              default="COMPLIANCE", show_default=True,
              help="COMPLIANCE cannot be shortened by anyone, root included; GOVERNANCE "
                   "yields to s3:BypassGovernanceRetention (warned).")
@click.option("--signing-key-id", help="KMS key (ECC_NIST_P256, SIGN_VERIFY) that signs each "
                                       "case's chain head (default: alias/ircli-evidence-"
                                       "signing, created when absent).")
@click.option("--organization-id", help="The central forensics bucket: every member account "
              "of this organisation (o-…) may write only under cases/<its account>/.")
@click.option("--member-role-name", help="The ircli role of the member accounts (default: "
              "[accounts] role_name).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for playbooks).")
@global_options
@click.pass_obj
def init_cmd(opts: GlobalOptions, bucket: str | None, kms_key_id: str | None,
             analyst_role_arns: tuple[str, ...], responder_role_arn: str | None,
             break_glass_role_arn: str | None, retention_days: int, retention_mode: str,
             signing_key_id: str | None, organization_id: str | None,
             member_role_name: str | None, yes: bool) -> int:
    """Create the evidence bucket, or check and repair it. A second run changes nothing.

    On a terminal it says what it would create or repair and asks; scripts pass --yes.
    """
    from ircli.cli.confirm import confirm_or_refuse
    from ircli.evidence.bucket import BucketSpec, check_bucket, init_bucket
    from ircli.evidence.policy import principal_arn
    from ircli.evidence.settings import break_glass_role

    name = _bucket(opts, bucket)
    aws = aws_session(opts)
    responder = responder_role_arn or principal_arn(aws.identity()["arn"])
    spec = BucketSpec(name, retention_days, retention_mode, kms_key_id,
                      tuple(analyst_role_arns), responder,
                      break_glass_role(break_glass_role_arn), signing_key_id,
                      manage_signing_key=True,
                      **_organization(organization_id, member_role_name))
    if not yes:
        before = check_bucket(aws, spec)  # reads only
        if not before.ok:
            if not opts.json:
                for check in before.checks:
                    if check.status == "fail":
                        click.echo(f"would fix {check.name}: {check.detail}" if check.name !=
                                   "exists" else f"would create s3://{name} with Object Lock "
                                   f"({retention_mode}, {retention_days} days), versioning, "
                                   "owner-enforced ownership, public access blocked, "
                                   "encryption, the TLS-only policy and tags", err=True)
            confirm_or_refuse(f"Set up s3://{name} as evidence storage now?", yes)
    report = init_bucket(aws, spec)
    data = report.to_dict()
    if opts.json:
        emit_json(data)
    else:
        from rich.console import Console
        from rich.text import Text

        console = Console(highlight=False, soft_wrap=True)
        for change in report.changes:
            console.print(Text.assemble(("changed: ", "green"), change))
        if not report.changes:
            console.print(f"No changes: s3://{name} already is ircli evidence storage.")
        _checks_table(console, data["checks"])
        if report.signing_key:
            console.print(f"Signing key: {report.signing_key}. Every responder's config needs "
                          f'`[evidence]` / `signing_key = "{report.signing_key}"` (or '
                          "IRCLI_EVIDENCE_SIGNING_KEY) so each ship signs the case's head.")
        for warning in report.warnings:
            click.echo(f"Warning: {warning}", err=True)
    return int(ExitCode.OK if report.ok else ExitCode.PARTIAL)


@evidence_group.command("check")
@_spec_options
@click.option("--retention-days", type=click.IntRange(1, 36500),
              help="Also require exactly this default retention.")
@click.option("--retention-mode", type=click.Choice(["GOVERNANCE", "COMPLIANCE"]),
              help="Require this retention mode (default: COMPLIANCE; GOVERNANCE accepts it).")
@_SIGNING_KEY
@global_options
@click.pass_obj
def check_cmd(opts: GlobalOptions, bucket: str | None, kms_key_id: str | None,
              analyst_role_arns: tuple[str, ...], responder_role_arn: str | None,
              break_glass_role_arn: str | None, retention_days: int | None,
              retention_mode: str | None, signing_key: str | None) -> int:
    """Audit the bucket against what `init` sets up; exit 0 only when every check passes.

    Without --analyst-role-arn/--responder-role-arn the policy is checked for its shape
    (TLS only, named roles only, everyone else denied, configuration changes denied to all
    but a break-glass role); with them, exactly.
    """
    from ircli.evidence.bucket import BucketSpec, check_bucket
    from ircli.evidence.settings import break_glass_role
    from ircli.evidence.settings import signing_key as configured_key

    name = _bucket(opts, bucket)
    spec = BucketSpec(name, retention_days, retention_mode, kms_key_id,
                      tuple(analyst_role_arns) if responder_role_arn else None,
                      responder_role_arn, break_glass_role(break_glass_role_arn),
                      configured_key(signing_key))
    aws = aws_session(opts)
    report = check_bucket(aws, spec)
    note = _lab_note(aws, report)
    data = report.to_dict() | ({"note": note} if note else {})
    if opts.json:
        emit_json(data)
    else:
        from rich.console import Console
        from rich.text import Text

        console = Console(highlight=False, soft_wrap=True)
        _checks_table(console, data["checks"])
        if note:
            console.print(Text.assemble(("Lab:", "yellow"), f" {note}"))
        failed = [c["name"] for c in data["checks"] if c["status"] == "fail"]
        console.print(Text(f"Failing: {', '.join(failed)}", "red") if failed
                      else Text(f"s3://{name} passes every check the lab can pass.") if note
                      else Text(f"s3://{name} passes every check."))
    return int(ExitCode.OK if report.ok else ExitCode.PARTIAL)


def _lab_note(aws: Any, report: Any) -> str | None:
    """In the lab, the missing bucket policy is by design: say why, and warn instead of fail."""
    from ircli.lab.control import lab_bucket_note

    note = lab_bucket_note(aws.client("s3").meta.endpoint_url, report.bucket)
    if note:
        for check in report.checks:
            if check.name.startswith("policy-") and check.status == "fail":
                check.status = "warn"
                check.detail = f"{check.detail} (lab: no bucket policy, see below)"
    return note


@evidence_group.command("sync")
@click.argument("case_id", shell_complete=complete_case_id)
@_SIGNING_KEY
@global_options
@click.pass_obj
def sync_cmd(opts: GlobalOptions, case_id: str, signing_key: str | None) -> int:
    """Upload whatever of a local case is not yet in the evidence bucket, and sign its head."""
    from ircli.core.clock import SystemClock
    from ircli.evidence.shipper import sync_case

    name = _bucket(opts, None)
    _adopt_first(opts, case_id)
    data = sync_case(aws_session(opts, case_id), name, case_id, SystemClock().now(),
                     signing_key)
    if opts.json:
        emit_json(data)
    elif data["uploaded"]:
        for key in data["uploaded"]:
            click.echo(f"uploaded s3://{name}/{key}")
        click.echo(f"Case {case_id}: {data['objects']} objects in the manifest.")
    else:
        click.echo(f"Nothing pending: case {case_id} is already in s3://{name}.")
    return 0


@evidence_group.command("verify")
@click.argument("case_id", shell_complete=complete_case_id)
@_SIGNING_KEY
@click.option("--case-account", help="In the central forensics bucket: the member account "
              "the case is of (cases/<account>/<case-id>/; default: the local case's).")
@global_options
@click.pass_obj
def verify_cmd(opts: GlobalOptions, case_id: str, signing_key: str | None,
               case_account: str | None) -> int:
    """Re-hash every object in the manifest; check versions, history, retention, the audit
    chain and the signed anchors."""
    from ircli.core.case import check_case_id
    from ircli.core.clock import SystemClock
    from ircli.evidence.settings import signing_key as configured_key
    from ircli.evidence.verify import verify_case

    check_case_id(case_id)
    name = _bucket(opts, None)
    _adopt_first(opts, case_id)
    aws = aws_session(opts, case_id)
    report = verify_case(aws.client("s3"), name, case_id, SystemClock().now(),
                         kms=aws.client("kms"), signing_key=configured_key(signing_key),
                         account=_case_account(name, case_id, case_account))
    data = report.to_dict()
    if opts.json:
        emit_json(data)
    else:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        console = Console(highlight=False, soft_wrap=True)
        table = Table(box=None, header_style="bold")
        for column in ("Object", "Result", "Version", "Problems"):
            table.add_column(column)
        for obj in data["objects"]:
            # keys, versions and problems quote what is in the bucket: plain text, not markup
            table.add_row(Text(obj["key"]), "[green]ok[/]" if obj["ok"] else "[red]MISMATCH[/]",
                          Text(str(obj["version_id"])), Text("; ".join(obj["problems"])))
        console.print(table)
        for warning in report.warnings:
            console.print(Text.assemble(("Warning: ", "yellow"), warning))
        if report.ok and report.anchored:
            console.print(f"Case {case_id}: every object verified; the chain head is signed "
                          f"by {report.signing_key} ({report.anchors} anchors).")
        elif report.ok:
            console.print(f"Case {case_id}: every object verified, but the chain is NOT "
                          "anchored.")
        else:
            console.print(f"[red]Case {case_id}: {len(report.mismatches)} mismatch(es):[/]")
            for line in report.mismatches:
                console.print(Text(f"  - {line}"))
    return int(ExitCode.OK if report.ok else ExitCode.PARTIAL)


def _adopt_first(opts: GlobalOptions, case_id: str) -> None:
    """A collection sent and never judged (--no-wait, Ctrl-C) is adopted before the case is
    shipped or verified, so its archive is recorded rather than reported as unlisted."""
    from ircli.core.clock import SystemClock
    from ircli.ops.collect import adopt_pending

    for line in adopt_pending(aws_session(opts, case_id), SystemClock(), case_id):
        click.echo(f"Note: {line}", err=True)


def _checks_table(console: Console, checks: list[dict[str, str]]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold")
    for column in ("Check", "Result", "Detail"):
        table.add_column(column)
    for check in checks:
        table.add_row(check["name"], _STATUS.get(check["status"], check["status"]),
                      Text(check["detail"]))
    console.print(table)


def _organization(organization_id: str | None, member_role_name: str | None
                  ) -> dict[str, str | None]:
    """``--organization-id``: the member role name too (flag, else [accounts] role_name)."""
    if not organization_id:
        return {}
    from ircli.core.accounts import access_for
    from ircli.core.errors import InvalidInput
    from ircli.forensics.settings import ORG_ID

    if not ORG_ID.match(organization_id):
        raise InvalidInput(f"{organization_id!r} is not an organization id.",
                           "Pass the id AWS Organizations shows, o- and 10-32 letters/digits.")
    role = member_role_name or access_for("000000000000").role_name
    if not role:
        raise InvalidInput("--organization-id needs the member accounts' ircli role name.",
                           "Pass --member-role-name NAME or set [accounts] role_name.")
    return {"organization_id": organization_id, "member_role_name": role}


def _case_account(bucket: str, case_id: str, explicit: str | None) -> str | None:
    """The member account of a case in the central forensics bucket: the option, else the
    local case's (None for an account's own bucket)."""
    import json

    from ircli.core.accounts import check_account_id
    from ircli.core.case import cases_root
    from ircli.evidence.settings import central_account

    if explicit:
        return check_account_id(explicit)
    try:
        data = json.loads((cases_root() / case_id / "case.json").read_text())
    except (OSError, ValueError):
        return None
    return central_account(bucket, data if isinstance(data, dict) else {})

