"""`ircli release TARGET|CASE_ID [TARGET…]`: several targets released by one command.

Each target is released by the same operation its one-target form runs (ops.release,
ops.release_identity, ops.release_family), in the account and region its case recorded; a
case id stands for every target the case contained. One plan for all, one question, bounded
parallel runs (the fleet runner shared with contain and disable-keys), the worst exit code.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import click

from ircli.cli.fleet import FleetItem, item_for, plan_confirm_run_many
from ircli.cli.main import aws_session
from ircli.cli.options import GlobalOptions
from ircli.core.errors import InvalidInput

if TYPE_CHECKING:
    from ircli.cli.flow import Run
    from ircli.core.engine import Emit
    from ircli.ops.common import RunSummary

_FAMILIES = ("bucket", "function", "db", "trail")
_IDENTITIES = ("user", "role")


def release_many(opts: GlobalOptions, given: tuple[str, ...], targets_file: Any, *,
                 case_id: str | None, dry_run: bool, yes: bool, reattach_asg: bool,
                 parallel: int) -> int:
    from ircli.ops.fleet import read_targets, unique

    values = list(given)
    if targets_file is not None:
        values += read_targets(targets_file, getattr(targets_file, "name", "the file"),
                               "target or case id")
    pairs = unique_pairs(expand(value, case_id) for value in unique(values))
    if not pairs:
        raise click.UsageError("Name what to release: TARGET, CASE_ID or --targets-file.")
    items: list[FleetItem] = [
        item_for(opts, target, partial(_run_for, target, case, reattach_asg), locate=False)
        for target, case in pairs]
    return plan_confirm_run_many(opts, "release", items, "Release these {count} targets?",
                                 dry_run=dry_run, yes=yes, parallel=parallel)


def expand(value: str, case_id: str | None) -> list[tuple[str, str | None]]:
    """``value`` as (target, case) pairs: itself, or every target of the local case it names."""
    if releasable(value):
        return [(value, case_id)]
    from ircli.core.case import CASE_ID_PATTERN, list_cases

    if CASE_ID_PATTERN.match(value):
        for case in list_cases():
            if case.get("case_id") == value:
                found: list[tuple[str, str | None]] = [
                    (str(t), value) for t in case.get("targets", {}) if releasable(str(t))]
                if not found:
                    raise InvalidInput(f"Case {value} holds no target that release can undo.",
                                       f"`ircli case show {value}` lists what it holds.")
                return found
    raise InvalidInput(
        f"{value!r} is neither a target (i-…, AKIA…, user/NAME, role/NAME, bucket/NAME, "
        "function/NAME, db/ID, trail/NAME) nor a case on this machine.",
        "`ircli case list` shows the cases here; copy a case directory to IRCLI_HOME first.")


def releasable(target: str) -> bool:
    kind = target.split("/", 1)[0] if "/" in target else None
    return target.startswith(("i-", "AKIA", "ASIA")) or kind in (*_FAMILIES, *_IDENTITIES)


def unique_pairs(groups: Any) -> list[tuple[str, str | None]]:
    """Each target once (the first case naming it wins)."""
    seen: dict[str, str | None] = {}
    for group in groups:
        for target, case in group:
            seen.setdefault(target, case)
    return list(seen.items())


def _run_for(target: str, case_id: str | None, reattach_asg: bool,
             opts: GlobalOptions) -> Run:
    """The one-target release of ``target``, in the place its case recorded."""
    from ircli.core.clock import SystemClock
    from ircli.core.config import evidence_bucket

    clock = SystemClock()
    bucket = evidence_bucket(opts.evidence_bucket, strict=False)
    kind, _, name = target.partition("/") if "/" in target else ("", "", target)
    if target.startswith("i-"):
        from ircli.ops.release import ReleaseOptions, release

        options = ReleaseOptions(instance_id=target, case_id=case_id, reattach_asg=reattach_asg,
                                 evidence_bucket=bucket)

        def instance(dry: bool, emit: Emit | None) -> RunSummary:
            options.dry_run = dry
            return release(aws_session(opts, case_id, target), clock, options, emit=emit)

        return instance
    if target.startswith(("AKIA", "ASIA")) or kind in _IDENTITIES:
        from ircli.ops.release_identity import IdentityReleaseOptions, release_identity

        who = IdentityReleaseOptions(
            access_key_id=None if kind else target, user=name if kind == "user" else None,
            role=name if kind == "role" else None, case_id=case_id, evidence_bucket=bucket)
        who.validate()

        def identity(dry: bool, emit: Emit | None) -> RunSummary:
            who.dry_run = dry
            return release_identity(aws_session(opts, case_id, target), clock, who, emit=emit)

        return identity
    if kind in _FAMILIES:
        from ircli.ops import release_family

        operation = getattr(release_family, f"release_{kind}")

        def family(dry: bool, emit: Emit | None) -> RunSummary:
            result: RunSummary = operation(aws_session(opts, case_id, target), clock, name,
                                           case_id=case_id, dry_run=dry, emit=emit)
            return result

        return family
    raise InvalidInput(f"ircli cannot release {target!r} from the command line.",
                       "Release it with the command its case names (`ircli case show`).")
