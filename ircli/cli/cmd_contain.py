"""`ircli contain INSTANCE_ID [INSTANCE_ID…]`, `--targets-file FILE`, `--filter tag:K=V`.

One instance runs the plan-confirm-run flow; several run as a fleet (ircli.cli.fleet): one
case each, every plan shown, one question, bounded parallel runs, the worst exit code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import click

from ircli.cli.confirm import confirm_new_case, instance_from_input
from ircli.cli.flow import Run, plan_confirm_run, under_planned_case
from ircli.cli.locating import locate_option, where_found
from ircli.cli.main import aws_session
from ircli.cli.options import GlobalOptions, case_options, global_options

if TYPE_CHECKING:
    from ircli.steps.names import SsmEgress


@click.command("contain")
@click.argument("instance_ids", metavar="INSTANCE_ID...", nargs=-1)
@click.option("--targets-file", type=click.File("r"),
              help="Also every instance id in this file, one per line (- for stdin).")
@click.option("--filter", "filters", multiple=True, metavar="tag:KEY=VALUE",
              help="Also every live instance with this tag (repeatable; all must match). "
                   "The plan lists them before anything changes.")
@click.option("--parallel", type=click.IntRange(1, 64), default=25, show_default=True,
              help="Several instances: how many are contained at once (EC2 takes this many; "
                   "botocore's standard retries absorb its throttling).")
@case_options("the instance's")
@click.option("--reason", help="Why, in words: kept in the case and the audit log.")
@click.option("--dry-run", is_flag=True,
              help="Show the plan and prove permissions; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for playbooks).")
@click.option("--no-snapshot", is_flag=True, help="Do not snapshot the EBS volumes.")
@click.option("--wait-snapshots", is_flag=True, help="Wait until the snapshots complete.")
@click.option("--ssm-egress", type=click.Choice(["endpoints", "any", "none"]), default="endpoints",
              show_default=True, help="What the isolation group lets out for live response.")
@click.option("--analyst-sg", help="Security group allowed in to the isolated instance.")
@click.option("--detach-profile", is_flag=True, help="Also disassociate the instance profile.")
@click.option("--revoke-role-sessions", is_flag=True,
              help="Also deny every older session of the role (affects the whole fleet).")
@click.option("--collect", is_flag=True,
              help="Then run the live-response collector (`ircli collect` defaults) and verify "
                   "its archive in the evidence bucket.")
@locate_option
@global_options
@click.pass_obj
def contain_cmd(opts: GlobalOptions, instance_ids: tuple[str, ...], targets_file: Any,
                filters: tuple[str, ...], parallel: int, case_id: str | None, new_case: bool,
                reason: str | None, dry_run: bool, yes: bool, no_snapshot: bool,
                wait_snapshots: bool,
                ssm_egress: str, analyst_sg: str | None, detach_profile: bool,
                revoke_role_sessions: bool, collect: bool) -> int:
    """Isolate a compromised EC2 instance and keep it as evidence."""
    from ircli.core.clock import SystemClock
    from ircli.core.config import evidence_bucket
    from ircli.liveresponse.collection import CollectSettings
    from ircli.ops.contain import ContainOptions, contain

    targets = _targets(opts, instance_ids, targets_file, filters)
    fleet = len(targets) > 1 or bool(targets_file or filters)
    if fleet and case_id:
        raise click.UsageError("--case-id names one case; several instances get one each.")
    if not fleet:
        confirm_new_case(case_id, new_case, dry_run)
    bucket = evidence_bucket(opts.evidence_bucket, strict=False)
    clock = SystemClock()

    def options_for(instance_id: str) -> ContainOptions:
        options = ContainOptions(
            instance_id=instance_id, case_id=case_id, reason=reason, dry_run=True,
            snapshot=not no_snapshot, wait_snapshots=wait_snapshots, ssm_egress=ssm_egress,
            analyst_sg=analyst_sg, detach_profile=detach_profile,
            revoke_role_sessions=revoke_role_sessions, evidence_bucket=bucket,
            collect=CollectSettings(bucket=bucket) if collect else None)
        options.validate()
        return options

    def run_for(instance_id: str, where: GlobalOptions) -> Run:
        return under_planned_case(options_for(instance_id), lambda o, emit: contain(
            aws_session(where, o.case_id), clock, o, emit=emit))

    if not fleet:
        where = where_found(opts, targets[0])
        return plan_confirm_run(where, run_for(targets[0], where),
                                f"Contain {targets[0]} now?", dry_run=dry_run, yes=yes)
    from ircli.cli.fleet import FleetItem, items_for, plan_confirm_run_many

    places: dict[str, GlobalOptions] = {}

    def placed(instance_id: str, where: GlobalOptions) -> Run:
        places[instance_id] = where
        return run_for(instance_id, where)

    def prepare(ready: list[FleetItem]) -> list[dict[str, Any]]:
        """Each account and region's VPC groups made ready once, before the fan-out."""
        from concurrent.futures import ThreadPoolExecutor

        from ircli.ops.fleet import PreparedPlace, prepare_isolation

        by_place: dict[tuple[str | None, str | None], list[str]] = {}
        for item in ready:
            by_place.setdefault((item.account, item.region), []).append(item.target)

        def one(ids: list[str]) -> PreparedPlace:
            where = places[ids[0]]
            return prepare_isolation(aws_session(where), clock, ids,
                                     cast("SsmEgress", ssm_egress), analyst_sg,
                                     account=where.account)

        with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(by_place)))) as pool:
            return [p.to_dict() for p in pool.map(one, by_place.values())]

    items = items_for(opts, targets, placed, parallel=parallel)
    return plan_confirm_run_many(opts, "contain", items, "Contain these {count} instances now?",
                                 dry_run=dry_run, yes=yes, parallel=parallel, prepare=prepare)


def _targets(opts: GlobalOptions, given: tuple[str, ...], targets_file: Any,
             filters: tuple[str, ...]) -> list[str]:
    """The instances named, listed in the file and matching the filters, each once."""
    from ircli.ops.fleet import instances_matching, parse_tag_filters, read_targets, unique

    found = [instance_from_input(opts, value) for value in given]
    if targets_file is not None:
        found += [instance_from_input(opts, value) for value in
                  read_targets(targets_file, getattr(targets_file, "name", "the file"))]
    if filters:
        found += instances_matching(aws_session(opts), parse_tag_filters(filters))
    if not found:
        raise click.UsageError("Name an instance: INSTANCE_ID, --targets-file or --filter.")
    return unique(found)
