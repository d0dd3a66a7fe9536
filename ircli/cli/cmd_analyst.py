"""`ircli analyst launch|attach|detach|terminate`: the forensic workstation of a case."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ircli.analyst.names import AMI_PARAMETER, DEFAULT_INSTANCE_TYPE
from ircli.cli.complete import complete_case_id
from ircli.cli.flow import plan_confirm_run
from ircli.cli.main import aws_session
from ircli.cli.options import GlobalOptions, global_options
from ircli.cli.output import emit_json

if TYPE_CHECKING:  # imported by `ircli --help`: no boto3, no rich at start-up
    from ircli.core.engine import Emit
    from ircli.ops.common import RunSummary


def _run_options(f: Any) -> Any:
    for decorator in reversed([
        click.option("--case-id", required=True, shell_complete=complete_case_id,
                     help="The case (from `ircli contain`)."),
        click.option("--dry-run", is_flag=True, help="Show the plan; change nothing."),
        click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation."),
    ]):
        f = decorator(f)
    return f


@click.group("analyst")
@global_options
def analyst_group() -> None:
    """The analyst workstation: reads the case's evidence, mounts copies of its disks."""


@analyst_group.command("launch")
@_run_options
@click.option("--subnet", "subnet_id", help="A forensic subnet (not in the suspect's VPC).")
@click.option("--create-network", is_flag=True,
              help="Build (or reuse) ircli-forensic-vpc: private subnet, S3 gateway and SSM "
                   "endpoints, no internet gateway.")
@click.option("--instance-type", default=DEFAULT_INSTANCE_TYPE, show_default=True)
@click.option("--ami", help=f"Image id, or an SSM parameter (default: {AMI_PARAMETER}).")
@click.option("--key-name", help="EC2 key pair (optional: Session Manager is the way in).")
@click.option("--new", is_flag=True, help="Launch another instance even if one runs.")
@global_options
@click.pass_obj
def launch_cmd(opts: GlobalOptions, case_id: str, dry_run: bool, yes: bool,
               subnet_id: str | None, create_network: bool, instance_type: str,
               ami: str | None, key_name: str | None, new: bool) -> int:
    """Launch the case's analyst instance (IMDSv2, encrypted, no inbound), or find it."""
    from ircli.core.clock import SystemClock
    from ircli.core.config import evidence_bucket
    from ircli.ops.analyst import LaunchOptions, launch

    options = LaunchOptions(case_id=case_id, subnet_id=subnet_id, create_network=create_network,
                            instance_type=instance_type, ami=ami, key_name=key_name, new=new,
                            evidence_bucket=evidence_bucket(opts.evidence_bucket))
    options.validate()
    clock = SystemClock()

    def run(dry: bool, emit: Emit | None) -> RunSummary:
        options.dry_run = dry
        return launch(aws_session(opts, case_id), clock, options, emit=emit)

    return plan_confirm_run(opts, run, f"Launch the analyst instance of case {case_id}?",
                            dry_run=dry_run, yes=yes, render=render_analyst)


def _instance_options(f: Any) -> Any:
    f = click.option("--instance-id", help="The analyst instance (default: the case's).")(f)
    return _run_options(f)


def _run_on_analyst(opts: GlobalOptions, operation: str, question: str, case_id: str,
                    dry_run: bool, yes: bool, **options: Any) -> int:
    """attach, detach and terminate: the same options object, plan, confirm, run."""
    from ircli.core.clock import SystemClock
    from ircli.core.config import evidence_bucket
    from ircli.ops import analyst

    values = analyst.AnalystOptions(
        case_id=case_id, evidence_bucket=evidence_bucket(opts.evidence_bucket, strict=False),
        **options)
    values.validate()
    clock = SystemClock()

    def run(dry: bool, emit: Emit | None) -> RunSummary:
        values.dry_run = dry
        result: RunSummary = getattr(analyst, operation)(aws_session(opts, case_id), clock,
                                                         values, emit=emit)
        return result

    return plan_confirm_run(opts, run, question, dry_run=dry_run, yes=yes,
                            render=render_analyst)


@analyst_group.command("attach")
@_instance_options
@global_options
@click.pass_obj
def attach_cmd(opts: GlobalOptions, case_id: str, dry_run: bool, yes: bool,
               instance_id: str | None) -> int:
    """Attach a copy of each of the case's snapshots to the analyst; print mount hints."""
    return _run_on_analyst(opts, "attach", f"Attach copies of case {case_id}'s disks?",
                           case_id, dry_run, yes, instance_id=instance_id)


@analyst_group.command("detach")
@_instance_options
@click.option("--keep-volumes", is_flag=True, help="Only detach; keep the copies.")
@global_options
@click.pass_obj
def detach_cmd(opts: GlobalOptions, case_id: str, dry_run: bool, yes: bool,
               instance_id: str | None, keep_volumes: bool) -> int:
    """Detach and delete the evidence copies ircli attached; the snapshots stay."""
    return _run_on_analyst(opts, "detach", f"Detach the evidence copies of case {case_id}?",
                           case_id, dry_run, yes, instance_id=instance_id,
                           keep_volumes=keep_volumes)


@analyst_group.command("terminate")
@_instance_options
@global_options
@click.pass_obj
def terminate_cmd(opts: GlobalOptions, case_id: str, dry_run: bool, yes: bool,
                  instance_id: str | None) -> int:
    """Delete the evidence copies and terminate the analyst; snapshots and evidence stay."""
    return _run_on_analyst(opts, "terminate",
                           f"Terminate the analyst instance of case {case_id}?", case_id,
                           dry_run, yes, instance_id=instance_id)


def render_analyst(opts: GlobalOptions, data: dict[str, Any]) -> None:
    """The result: JSON, or what the analyst needs — how to connect and how to mount."""
    if opts.json:
        emit_json(data)
        return
    from ircli.cli.plaintext import console as plain_console
    from ircli.cli.plaintext import plain, styled
    from ircli.cli.render import _render_plan

    console = plain_console()  # every value here may come from AWS: plain text only
    title = "PLAN (dry-run: nothing was changed)" if data["status"] == "planned" \
        else data["status"].upper()
    console.rule(plain(f"ircli {data['command']} — {title}"))
    if data["status"] == "planned":
        _render_plan(console, data)
    console.print(f"Case:       {data.get('case_id')} ({data['region']})")
    labels = [("analyst_instance_id", "Analyst:"), ("vpc_id", "VPC:"), ("subnet_id", "Subnet:"),
              ("security_group_id", "Group:"), ("role_arn", "Role:"),
              ("instance_profile", "Profile:"), ("connect", "Connect:")]
    for key, label in labels:
        if data.get(key):
            console.print(f"{label:<11} {data[key]}")
    for volume in data.get("volumes", []):
        console.print()
        console.print(plain(styled(volume["device"], "bold"), f" {volume['volume_id']}: copy "
                            f"of {volume['snapshot_id']} ({volume['original_device']} of "
                            f"{volume['suspect_instance']})"))
        for command in volume["commands"]:
            console.print(f"  {command}", markup=False)
    for key, label in (("deleted_volumes", "Deleted:"), ("terminated", "Terminated:"),
                       ("snapshots_kept", "Kept:"), ("left_for_reuse", "Reusable:")):
        if data.get(key):
            console.print(f"{label:<11} {', '.join(data[key])}")
    for snapshot in data.get("not_attached", []):
        console.print(plain(styled("Not attached:", "yellow"), f" {snapshot}"))
    for step in (s for s in data["steps"] if s["status"] == "failed"):
        console.print(plain(styled("Failed:", "red"), f" {step['title']}: {step['detail']}"))
    for warning in data.get("warnings", []):
        console.print(plain(styled("Warning:", "yellow"), f" {warning}"))
    if data.get("case_dir"):
        console.print(f"Case record: {data['case_dir']}")
