"""``runbook run``: build a runbook's steps from the registry and run them like the built-ins.

Each target kind runs through the function its built-in command uses (``contain``'s
:func:`run_instance_steps`, ``disable-keys``' :func:`run_user_steps`, ``block-ip``'s
:func:`run_ip_steps`), so case selection, records, evidence and the result are the same.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ircli.aws.ec2 import check_instance_id
from ircli.aws.iam_identity import check_access_key_id, check_iam_name
from ircli.aws.nacl import parse_address
from ircli.core.case import check_case_id
from ircli.core.clock import Clock
from ircli.core.config import load_config
from ircli.core.engine import Emit
from ircli.core.errors import InvalidInput, UserError
from ircli.core.session import AwsSession
from ircli.core.step import STEPS, Step
from ircli.ops.block import IpRun, require_scope, run_ip_steps
from ircli.ops.common import RunSummary
from ircli.ops.contain import InstanceRun, run_instance_steps
from ircli.ops.families import FAMILY_KINDS, run_family_steps
from ircli.ops.identity import DisableKeysOptions, run_user_steps
from ircli.runbook.kinds import KINDS
from ircli.runbook.loader import substitute
from ircli.runbook.model import Runbook
from ircli.steps.advice import parse_workload
from ircli.steps.lambda_fn import check_function_name
from ircli.steps.notify import check_topic_arn
from ircli.steps.rds import check_db_identifier
from ircli.steps.s3_bucket import check_bucket_name
from ircli.steps.trail import check_trail_name

ENV_NOTIFY_TOPIC = "IRCLI_NOTIFY_TOPIC"


@dataclass
class RunbookOptions:
    target: str
    vpc: str | None = None  # ip runbooks: where to act
    subnets: list[str] = field(default_factory=list)
    case_id: str | None = None
    reason: str | None = None
    dry_run: bool = False
    evidence_bucket: str | None = None
    notify_topic: str | None = None
    finding: dict[str, Any] | None = None  # what triage read, for the record and the notice
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # step -> args to replace

    def validate(self, runbook: Runbook) -> None:
        runbook.require_valid()
        check_target(runbook.target, self.target)
        if runbook.target == "ip":
            require_scope(self.vpc, self.subnets)
        elif self.vpc or self.subnets:
            raise InvalidInput(f"--vpc and --subnet apply to IP runbooks; {runbook.name} acts on "
                               f"an {KINDS[runbook.target].label}.", "Leave them out.")
        if self.case_id:
            check_case_id(self.case_id)
        if self.notify_topic:
            check_topic_arn(self.notify_topic)


def check_target(kind: str, target: str) -> None:
    """The target id must be of the runbook's kind (an instance id for an instance runbook)."""
    try:
        if kind == "instance":
            check_instance_id(target)
        elif kind == "access-key":
            check_access_key_id(target)
        elif kind == "role":
            check_iam_name(target, "role")
        elif kind == "container":
            parse_workload(target)
        elif kind == "bucket":
            check_bucket_name(target)
        elif kind == "trail":
            check_trail_name(target)
        elif kind == "function":
            check_function_name(target)
        elif kind == "db":
            check_db_identifier(target)
        else:
            parse_address(target)
    except UserError as err:
        raise UserError(f"{err.message} This runbook acts on an {KINDS[kind].label}.",
                        f"Pass --target with the {KINDS[kind].label}, e.g. "
                        f"{KINDS[kind].example}.") from err


def notify_topic(explicit: str | None = None) -> str | None:
    """``--notify-topic``, else ``IRCLI_NOTIFY_TOPIC``, else ``[notify] topic`` in the config."""
    if explicit:
        return explicit
    if os.environ.get(ENV_NOTIFY_TOPIC):
        return os.environ[ENV_NOTIFY_TOPIC]
    try:
        value = load_config().get("notify", {}).get("topic")
    except (UserError, OSError):
        return None  # a broken config file must not stop a containment
    return str(value) if value else None


def build_steps(runbook: Runbook, target: str,
                overrides: dict[str, dict[str, Any]] | None = None) -> list[Step]:
    """The runbook's own steps, from the registry, with ``${target}`` replaced (and, for the
    lab's demo, some arguments replaced by ``overrides``)."""
    return [STEPS[spec.name](**{**substitute(spec.args, target),
                                **(overrides or {}).get(spec.name, {})})
            for spec in runbook.steps]


def run_runbook(aws: AwsSession, clock: Clock, runbook: Runbook, opts: RunbookOptions,
                emit: Emit | None = None) -> RunSummary:
    """Run (or with ``dry_run``, plan) the runbook against ``opts.target``."""
    opts.validate(runbook)
    steps = build_steps(runbook, opts.target, opts.overrides)
    facts = {"runbook": runbook.name, "notify_topic": opts.notify_topic,
             "evidence_bucket": opts.evidence_bucket, "finding": opts.finding}
    extra = {"runbook": runbook.name, "runbook_file": str(runbook.path),
             "target_kind": runbook.target, "finding": opts.finding}
    options = {"runbook": runbook.name, "runbook_file": str(runbook.path), "target": opts.target,
               "vpc": opts.vpc, "subnets": opts.subnets, "case_id": opts.case_id,
               "finding_id": (opts.finding or {}).get("id")}
    if runbook.target == "ip":
        ip_run = IpRun("runbook", "blocked", opts.target, opts.vpc, opts.subnets, opts.case_id,
                       reason=opts.reason, dry_run=opts.dry_run, options=options, facts=facts,
                       extra=extra, evidence_bucket=opts.evidence_bucket)
        return run_ip_steps(aws, clock, ip_run, steps, emit=emit)  # adds resolve-network
    preamble = [STEPS[name]() for name in KINDS[runbook.target].preamble]
    if runbook.target in FAMILY_KINDS:
        return run_family_steps(aws, clock, runbook.target, opts.target, [*preamble, *steps],
                                case_id=opts.case_id, dry_run=opts.dry_run, command="runbook",
                                facts=facts, options=options, extra=extra, emit=emit)
    if runbook.target == "instance":
        run = InstanceRun("runbook", opts.target, opts.case_id, opts.reason, opts.dry_run,
                          opts.evidence_bucket, options=options, facts=facts, extra=extra)
        return run_instance_steps(aws, clock, run, [*preamble, *steps], emit=emit)
    user_opts = DisableKeysOptions(access_key_id=opts.target, case_id=opts.case_id,
                                   dry_run=opts.dry_run, evidence_bucket=opts.evidence_bucket)
    result = run_user_steps(aws, clock, user_opts, [*preamble, *steps], command="runbook",
                            facts=facts, options=options, emit=emit)
    result.data.update(extra)
    return result
