"""`ircli block-ip IP`, `ircli block-ip --expire`, `ircli unblock-ip IP`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ircli.cli.confirm import confirm_new_case
from ircli.cli.flow import plan_confirm_run, under_planned_case
from ircli.cli.main import aws_session
from ircli.cli.options import GlobalOptions, case_options, global_options

if TYPE_CHECKING:  # imported by `ircli --help`: no boto3 at start-up
    from ircli.core.engine import Emit
    from ircli.ops.common import RunSummary


@click.command("block-ip")
@click.argument("address", metavar="[IP]", required=False)
@click.option("--vpc", help="Block in every network ACL guarding a subnet of this VPC.")
@click.option("--subnet", "subnets", multiple=True,
              help="Block in the network ACLs of these subnets (repeatable).")
@click.option("--hours", type=int, default=24, show_default=True,
              help="How long the block lasts; `--expire` lifts it afterwards.")
@case_options("the address's")
@click.option("--reason", help="Why, in words: kept in the case and the audit log.")
@click.option("--force", is_flag=True,
              help="Also block a private address or one of the VPC's own ranges.")
@click.option("--expire", is_flag=True,
              help="Instead: lift every block past its expiry (for a scheduler; no prompt).")
@click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for playbooks).")
@global_options
@click.pass_obj
def block_ip_cmd(opts: GlobalOptions, address: str | None, vpc: str | None,
                 subnets: tuple[str, ...], hours: int, case_id: str | None, new_case: bool,
                 reason: str | None, force: bool, expire: bool, dry_run: bool,
                 yes: bool) -> int:
    """Deny an address in and out in network ACLs for a while (24 h by default).

    Entries go in ircli's rule range 50-99, below the usual allow rule 100, never over an
    existing entry; the expiry is a tag on the ACL. Run `ircli block-ip --expire` from a
    scheduler to lift expired blocks.
    """
    from ircli.core.clock import SystemClock
    from ircli.core.config import evidence_bucket
    from ircli.ops.block import BlockOptions, block_ip, expire_blocks

    clock = SystemClock()
    bucket = evidence_bucket(opts.evidence_bucket, strict=False)
    if expire:
        if address or subnets:
            raise click.UsageError("--expire takes no IP and no --subnet (only --vpc).")

        def expire_run(dry: bool, emit: Emit | None) -> RunSummary:
            return expire_blocks(aws_session(opts), clock, vpc=vpc, dry_run=dry, emit=emit,
                                 evidence_bucket=bucket)

        # Lifting what expired carries out a decision already approved, so it never asks.
        return plan_confirm_run(opts, expire_run, "", dry_run=dry_run, yes=True)
    if address is None:
        raise click.UsageError("Name the address to block (or pass --expire).")
    confirm_new_case(case_id, new_case, dry_run)
    options = BlockOptions(address=address, vpc=vpc, subnets=list(subnets), hours=hours,
                           force=force, case_id=case_id, reason=reason,
                           evidence_bucket=bucket)
    options.validate()

    run = under_planned_case(options, lambda o, emit: block_ip(
        aws_session(opts, o.case_id), clock, o, emit=emit))
    return plan_confirm_run(opts, run, f"Block {address} for {hours} h now?", dry_run=dry_run,
                            yes=yes)


@click.command("unblock-ip")
@click.argument("address", metavar="IP")
@click.option("--vpc", help="Only in this VPC's network ACLs (default: every VPC).")
@click.option("--subnet", "subnets", multiple=True, help="Only in these subnets' network ACLs.")
@click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@global_options
@click.pass_obj
def unblock_ip_cmd(opts: GlobalOptions, address: str, vpc: str | None, subnets: tuple[str, ...],
                   dry_run: bool, yes: bool) -> int:
    """Lift ircli's blocks of an address now (entries that are not ircli's stay)."""
    from ircli.core.clock import SystemClock
    from ircli.core.config import evidence_bucket
    from ircli.ops.block import unblock_ip

    clock = SystemClock()
    bucket = evidence_bucket(opts.evidence_bucket, strict=False)

    def run(dry: bool, emit: Emit | None) -> RunSummary:
        return unblock_ip(aws_session(opts), clock, address, vpc=vpc, subnets=list(subnets),
                          dry_run=dry, emit=emit, evidence_bucket=bucket)

    return plan_confirm_run(opts, run, f"Lift the blocks of {address} now?", dry_run=dry_run,
                            yes=yes)
