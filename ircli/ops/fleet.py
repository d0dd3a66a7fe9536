"""A fleet run: which targets (ids given, ids in a file, instances matching tags) and the one
runner every per-target command shares (contain, disable-keys, release): each target its own
plan, case and exit code, bounded in parallel, progress reported through callbacks."""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from ircli.core.errors import ExitCode, InvalidInput, IrcliError, NotFound
from ircli.core.session import AwsSession
from ircli.ops.common import RunSummary

if TYPE_CHECKING:
    from ircli.core.clock import Clock
    from ircli.core.engine import Emit
    from ircli.steps.names import SsmEgress

_TAG_FILTER = re.compile(r"^tag:([^=]+)=(.*)$")
_LIVE = ["pending", "running", "stopping", "stopped"]


def read_targets(stream: IO[str], where: str, what: str = "instance id") -> list[str]:
    """One id per line; blank lines and ``#`` comments skipped."""
    found = []
    for line in stream.read().splitlines():
        value = line.split("#", 1)[0].strip()
        if value:
            found.append(value)
    if not found:
        raise InvalidInput(f"{where} names no target.", f"Write one {what} per line.")
    return found


def parse_tag_filters(filters: Iterable[str]) -> list[dict[str, Any]]:
    """``tag:KEY=VALUE`` → EC2 filters (all must match)."""
    parsed = []
    for raw in filters:
        match = _TAG_FILTER.match(raw)
        if not match:
            raise InvalidInput(f"--filter {raw!r} is not tag:KEY=VALUE.",
                               "e.g. --filter tag:aws:autoscaling:groupName=web")
        parsed.append({"Name": f"tag:{match.group(1)}", "Values": [match.group(2)]})
    return parsed


def instances_matching(aws: AwsSession, filters: list[dict[str, Any]]) -> list[str]:
    """Live instances whose tags match every filter, in this account and region."""
    pages = aws.client("ec2").get_paginator("describe_instances").paginate(
        Filters=[*filters, {"Name": "instance-state-name", "Values": _LIVE}])
    found = [i["InstanceId"] for page in pages for r in page["Reservations"]
             for i in r["Instances"]]
    if not found:
        shown = ", ".join(f"{f['Name']}={f['Values'][0]}" for f in filters)
        raise NotFound(f"No live instance in {aws.region} matches {shown}.",
                       "Check the tag, --region and --account.")
    return found


def unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


# -- the runner every per-target command shares -------------------------------------------

FleetRun = Callable[[bool, "Emit | None"], RunSummary]  # (dry_run, progress) -> result
FleetEvent = Callable[["FleetItem", str, dict[str, Any]], None]
DEFAULT_PARALLEL = 8


@dataclass
class FleetItem:
    """One target of a fleet run: what to show beside it, and its plan-or-run function."""

    target: str
    run: FleetRun
    account: str | None = None
    region: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """How one target's plan or run ended: its exit code decides the fleet's."""

    item: FleetItem
    exit_code: int
    status: str
    case_id: str | None = None
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.item.target, "account": self.item.account,
                "region": self.item.region, "status": self.status, "case_id": self.case_id,
                "exit_code": self.exit_code, "detail": self.detail, **self.item.extra,
                "result": self.data}


def _attempt(item: FleetItem, dry_run: bool, events: FleetEvent | None) -> Outcome:
    def emit(kind: str, data: dict[str, Any]) -> None:
        if events is not None:
            events(item, kind, data)

    emit("target-start", {"dry_run": dry_run})
    try:
        result = item.run(dry_run, emit if events is not None else None)
    except IrcliError as err:
        outcome = Outcome(item, int(err.exit_code), "error", detail=err.message)
    except Exception as err:  # a bug for this target only; the others go on
        outcome = Outcome(item, int(ExitCode.BUG), "bug", detail=f"{type(err).__name__}: {err}")
    else:
        outcome = Outcome(item, int(result.exit_code), str(result.data.get("status")),
                          result.data.get("case_id"), _detail(result), result.data)
    emit("target-end", {"outcome": outcome})
    return outcome


def _detail(result: RunSummary) -> str:
    """One line on why a target did not end well: the failed step's detail, else the given."""
    detail = str(result.data.get("detail") or "")
    if detail or not result.exit_code:
        return detail
    failed = [s for s in result.data.get("steps", []) if s.get("status") == "failed"]
    return f"{failed[0]['name']}: {failed[0].get('detail', '')}" if failed else ""


def run_each(items: list[FleetItem], *, dry_run: bool, parallel: int = DEFAULT_PARALLEL,
             events: FleetEvent | None = None) -> list[Outcome]:
    """Plan or run every item, ``parallel`` at a time; one failing never stops the others.

    ``events`` hears ``target-start``, each engine event of the target (``step-start``,
    ``step-end``, ``progress``…) and ``target-end`` (with the outcome), from worker threads:
    the display decides what to show; this module never prints. Outcomes keep the items' order.
    """
    outcomes: dict[int, Outcome] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, min(parallel, len(items) or 1)),
                              thread_name_prefix="ircli-fleet")
    futures = {pool.submit(contextvars.copy_context().run, _attempt, item, dry_run, events): n
               for n, item in enumerate(items)}
    try:
        for future in as_completed(futures):
            outcomes[futures[future]] = future.result()
    except KeyboardInterrupt:
        # Ctrl-C reaches this (the main) thread only: start no new target, let the ones
        # running finish (a target stopped half-way is worse than one done), report the rest.
        pool.shutdown(wait=True, cancel_futures=True)
        for future, n in futures.items():
            if n not in outcomes:
                outcomes[n] = future.result() if future.done() and not future.cancelled() \
                    else Outcome(items[n], int(ExitCode.INTERRUPTED), "not-run",
                                 detail="not started: interrupted (Ctrl-C)")
    finally:
        pool.shutdown(wait=True)
    return [outcomes[n] for n in range(len(items))]


def ready_to_run(plans: list[Outcome]) -> list[FleetItem]:
    """The targets whose plan succeeded and that are not already released."""
    return [p.item for p in plans if p.exit_code == 0 and p.status != "released"]


# -- contain's prepare phase ---------------------------------------------------------------

_IDS_PER_FILTER = 200  # EC2 takes at most 200 values in one filter


@dataclass
class PreparedPlace:
    """What the prepare phase did in one account and region."""

    account: str | None
    region: str | None
    instances: int
    isolation_groups: dict[str, str] = field(default_factory=dict)  # vpc -> group id
    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"account": self.account, "region": self.region, "instances": self.instances,
                "isolation_groups": self.isolation_groups, "changes": self.changes,
                "warnings": self.warnings, "error": self.error}


def instance_vpcs(aws: AwsSession, instance_ids: list[str]) -> list[str]:
    """The VPCs of every ENI of these instances, in one DescribeInstances per 200 ids (a filter,
    not InstanceIds: one id gone since the plan must not fail the others)."""
    ec2 = aws.client("ec2")
    vpcs: set[str] = set()
    for start in range(0, len(instance_ids), _IDS_PER_FILTER):
        chunk = instance_ids[start:start + _IDS_PER_FILTER]
        for page in ec2.get_paginator("describe_instances").paginate(
                Filters=[{"Name": "instance-id", "Values": chunk}]):
            vpcs.update(eni["VpcId"] for r in page["Reservations"] for i in r["Instances"]
                        for eni in i.get("NetworkInterfaces", []) if eni.get("VpcId"))
    return sorted(vpcs)


def prepare_isolation(aws: AwsSession, clock: Clock, instance_ids: list[str],
                      ssm_egress: SsmEgress, analyst_sg: str | None, *,
                      account: str | None = None) -> PreparedPlace:
    """Each VPC's transition and isolation groups made ready once, before the fan-out, so the
    instances' isolate steps find them exact instead of all racing to create them.

    Nothing here is needed for correctness: an instance whose groups are not ready (this
    failed, or another responder changed them since) sets them up itself as a single contain
    does. So a failure is reported, never raised.
    """
    from ircli.core.engine import RunContext
    from ircli.core.session import ApiCall
    from ircli.steps.isolation_groups import prepare_groups

    place = PreparedPlace(account, aws.region, len(instance_ids))
    ctx = RunContext(aws, clock, "fleet-prepare")

    def note(call: ApiCall) -> None:
        if call.mutating and not call.error_code:
            made = call.response.get("GroupId") or call.params.get("GroupId") or ""
            place.changes.append(f"{call.service}:{call.operation} {made}".strip())

    aws.observers.append(note)
    try:
        vpcs = instance_vpcs(aws, instance_ids)
        if vpcs:
            place.isolation_groups, plan = prepare_groups(ctx, vpcs, ssm_egress, analyst_sg)
            place.warnings = list(dict.fromkeys([*plan.warnings, *ctx.warnings]))
    except Exception as err:  # reported; each instance then prepares its own groups
        from ircli.core.awserrors import describe

        place.error = err.message if isinstance(err, IrcliError) else describe(err)
    finally:
        aws.observers.remove(note)
    return place
