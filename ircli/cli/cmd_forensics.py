"""`ircli forensics check|share|key-policy`: the forensics account of the organisation."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from ircli.cli.complete import complete_case_id
from ircli.cli.flow import plan_confirm_run
from ircli.cli.main import aws_session
from ircli.cli.options import GlobalOptions, global_options
from ircli.cli.output import emit_json
from ircli.cli.plain import print_rows

if TYPE_CHECKING:
    from ircli.core.engine import Emit
    from ircli.ops.common import RunSummary


@click.group("forensics")
@global_options
def forensics_group() -> None:
    """The forensics account: where every member account's snapshots, cases and analysts go."""


@forensics_group.command("check")
@global_options
@click.pass_obj
def check_cmd(opts: GlobalOptions) -> int:
    """Check each piece of [forensics] and the trust between them (exit 3 on any gap)."""
    from ircli.forensics.settings import ForensicsSettings, load_forensics
    from ircli.ops.forensics import check

    settings = load_forensics() or ForensicsSettings()
    result = check(aws_session(opts), settings, opts.role_name)
    if opts.json:
        emit_json(result.data)
    else:
        print_rows(["Check", "Result", "Detail", "Fix"],
                   [[r["name"], r["status"].upper(), r["detail"], r["fix"]]
                    for r in result.data["checks"]], title="ircli forensics check")
        failed = [r["name"] for r in result.data["checks"] if r["status"] == "fail"]
        click.echo(f"Failing: {', '.join(failed)}" if failed else
                   "The forensics account is ready for every member account.")
    return int(result.exit_code)


@forensics_group.command("key-policy")
@click.option("--organization-id", required=True, help="The organisation (o-…).")
@click.option("--member-role-name", help="Member accounts' ircli role (default: [accounts] "
                                         "role_name).")
@global_options
@click.pass_obj
def key_policy_cmd(opts: GlobalOptions, organization_id: str,
                   member_role_name: str | None) -> int:
    """Print the statements the forensics key's policy needs (add them to its policy)."""
    from ircli.core.accounts import access_for
    from ircli.core.errors import InvalidInput
    from ircli.forensics.settings import ORG_ID
    from ircli.ops.forensics import key_policy

    if not ORG_ID.match(organization_id):
        raise InvalidInput(f"{organization_id!r} is not an organization id.",
                           "Pass the id AWS Organizations shows, o- and 10-32 letters/digits.")
    role = member_role_name or opts.role_name or access_for("000000000000").role_name
    if not role:
        raise InvalidInput("The member accounts' ircli role name is not known.",
                           "Pass --member-role-name NAME or set [accounts] role_name.")
    click.echo(json.dumps(key_policy(aws_session(opts), organization_id, role), indent=2))
    return 0


@forensics_group.command("share")
@click.argument("case_id", shell_complete=complete_case_id)
@click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@global_options
@click.pass_obj
def share_cmd(opts: GlobalOptions, case_id: str, dry_run: bool, yes: bool) -> int:
    """Copy the case's snapshots under the forensics key and share them with that account."""
    from ircli.core.case import check_case_id
    from ircli.core.clock import SystemClock
    from ircli.core.config import evidence_bucket
    from ircli.forensics.settings import require_forensics
    from ircli.ops.forensics import share

    check_case_id(case_id)
    settings = require_forensics()
    clock = SystemClock()
    sessions: dict[str, Any] = {}

    def session_for(target: str) -> Any:  # where the case recorded the instance lives
        if target not in sessions:
            sessions[target] = aws_session(opts, case_id, target=target)
        return sessions[target]

    def run(dry: bool, emit: Emit | None) -> RunSummary:
        return share(session_for, clock, case_id, settings, dry_run=dry, emit=emit,
                     bucket=evidence_bucket(opts.evidence_bucket, strict=False),
                     reader=lambda: aws_session(opts, case_id))

    return plan_confirm_run(opts, run, f"Copy case {case_id}'s snapshots to the forensics "
                            f"account {settings.account}?", dry_run=dry_run, yes=yes,
                            render=render_share)


def render_share(opts: GlobalOptions, data: dict[str, Any]) -> None:
    if opts.json:
        emit_json(data)
        return
    from ircli.cli.plaintext import console as plain_console
    from ircli.cli.plaintext import plain, styled

    console = plain_console()  # ids and tags come from AWS: plain text only
    console.rule(plain(f"ircli forensics share {data['case_id']} — {data['status'].upper()}"))
    for target in data["targets"]:
        for step in target["steps"]:
            console.print(plain(f"{target['target']}: {step['status']}"
                                + (f" — {step['detail']}" if step["detail"] else "")))
            for change in step["changes"]:
                console.print(plain(f"  {'would ' if data['dry_run'] else ''}{change}"))
        for copy in target.get("copies", []):
            console.print(plain(f"  {copy['source_snapshot_id']} -> "
                                f"{copy.get('copy_snapshot_id') or '?'} ({copy['status']}, "
                                f"{copy.get('region')})"))
    for warning in data.get("warnings", []):
        console.print(plain(styled("Warning:", "yellow"), f" {warning}"))
