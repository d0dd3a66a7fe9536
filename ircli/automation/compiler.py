"""Compile a runbook to one Step Functions state machine (Amazon States Language).

Each step of the runbook contributes its own states (``Step.compile``); this module chains them
in runbook order with the engine's rules (``ircli.core.engine``):

- a failing *critical* step ends the run: failure record (``cases/<id>/failure.json``), SNS
  message, then ``Fail``; a failing non-critical step is recorded and the chain goes on;
- what a step found is written to the case before its first change, and the first record of a
  case wins (a re-delivered event never overwrites the state release restores);
- every step's end lands in the case's audit chain.

The input is the GuardDuty finding as EventBridge delivers it. The case id is derived from the
finding id (``ir-gd-<md5 of detail.id>``), so the same finding delivered twice converges on the
same case. Nothing but Step Functions' AWS SDK integrations runs: no Lambda, no ircli code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ircli.catalog.steps  # noqa: F401 - the registry must be complete
from ircli.automation import states_case as case
from ircli.core.permission import EVIDENCE_CASES, Permission, PermissionLike
from ircli.core.step import FAIL, NEXT, STEPS, CompileContext, Fragment, NotCompilable, Step
from ircli.runbook.kinds import KINDS
from ircli.runbook.model import Runbook

__all__ = ["PARAMETERS", "TARGET_PATHS", "CompiledRunbook", "NotCompilable", "compile_runbook"]

# Where each kind of target is in the GuardDuty finding event.
TARGET_PATHS = {
    "instance": "$.detail.resource.instanceDetails.instanceId",
    "ip": "$.detail.service.action.networkConnectionAction.remoteIpDetails.ipAddressV4",
}

# What the definition expects to be given at deploy time (CloudFormation parameters).
PARAMETERS = {
    "EvidenceBucket": "the evidence bucket; each case is written under cases/<case-id>/ there "
                      "(case.json, audit/<seq>.json, failure.json)",
    "TopicArn": "the SNS topic told when a critical step fails (the instance is not contained)",
}


@dataclass(frozen=True)
class CompiledRunbook:
    name: str  # runbook name
    definition: dict[str, Any]  # the ASL document
    finding_types: list[str]  # the runbook's GuardDuty finding type patterns
    actions: list[PermissionLike]  # IAM the execution role needs
    parameters: dict[str, str]  # deploy-time inputs the definition expects, described


def compile_runbook(runbook: Runbook, *, partition: str = "aws", bucket: str,
                    topic_arn: str, region: str | None = None) -> CompiledRunbook:
    """The state machine that does what ``ircli runbook run`` does, fired by a finding;
    ``region``, when known, is the machine's (a template for any region leaves it None)."""
    runbook.require_valid()
    if runbook.target not in TARGET_PATHS:
        raise NotCompilable(runbook.steps[0].name if runbook.steps else runbook.name,
                            f"runbooks on a {runbook.target} target take their target from "
                            "the command line, not from a finding event ircli can compile")
    names = [*KINDS[runbook.target].preamble, *(spec.name for spec in runbook.steps)]
    args: list[dict[str, Any]] = [{} for _ in KINDS[runbook.target].preamble]
    args += [dict(s.args) for s in runbook.steps]
    steps: list[Step] = [STEPS[name](**arg) for name, arg in zip(names, args, strict=True)]
    builder = _Builder(runbook, partition, bucket, topic_arn, region)
    for step in steps:
        builder.add(step)
    return CompiledRunbook(
        name=runbook.name, definition=builder.finish(),
        finding_types=[p.pattern for p in runbook.finding_types],
        actions=builder.permissions(), parameters=dict(PARAMETERS))


class _Builder:
    """Collects the fragments and wires their exits."""

    def __init__(self, runbook: Runbook, partition: str, bucket: str, topic_arn: str,
                 region: str | None = None) -> None:
        self.runbook = runbook
        self.region = region
        self.central = case.central_bucket(bucket)
        self.fields: dict[str, Any] = {}
        self.partition = partition
        self.bucket = bucket
        self.topic_arn = topic_arn
        self.states: dict[str, dict[str, Any]] = {}
        self.order: list[tuple[Step, str, Fragment | None]] = []
        self.perms: list[PermissionLike] = []

    def add(self, step: Step) -> None:
        prefix = step.record_key.replace("-", "_")
        cc = CompileContext(self.partition, prefix, step.critical, self.region)
        fragment = step.compile(cc)
        self.order.append((step, prefix, fragment))
        if fragment is not None:
            self.perms += fragment.permissions
            self.fields.update(getattr(fragment, "case_fields", {}))

    def permissions(self) -> list[PermissionLike]:
        found: list[PermissionLike] = []
        for perm in [*self.perms, *case.PERMISSIONS,
                     Permission(("s3:PutObject", "s3:GetObject"), EVIDENCE_CASES),
                     Permission("sns:Publish", self.topic_arn)]:
            if perm not in found:
                found.append(perm)
        return found

    def finish(self) -> dict[str, Any]:
        compiled = [(s, p, f) for s, p, f in self.order if f is not None]
        starts = [f"{p}._Begin" for _, p, _ in compiled] + [case.RUN_END]
        recorded: list[tuple[str, str]] = []  # (record_key, prefix) of the steps begun so far
        for index, (step, prefix, fragment) in enumerate(compiled):
            assert fragment is not None
            recorded.append((step.record_key, prefix))
            self._wire(step, prefix, fragment, starts[index + 1], list(recorded))
        cx = self._context()
        self.states.update(case.run_states(cx, first=starts[0], recorded=recorded))
        self.states.update(case.audit_states(cx, self.states))
        skipped = [s.name for s, _, f in self.order if f is None]
        comment = (f"ircli runbook {self.runbook.name}, compiled: "
                   + ", ".join(s.name for s, _, f in self.order if f is not None))
        if skipped:
            comment += f" (advice only, not compiled: {', '.join(skipped)})"
        states = _in_partition(self.states, self.partition)
        return {"Comment": comment, "StartAt": case.INIT, "States": states}

    def _context(self) -> case.CaseContext:
        return case.CaseContext(self.runbook.name, self.bucket, self.topic_arn,
                                self.runbook.target, TARGET_PATHS[self.runbook.target],
                                central=self.central, fields=dict(self.fields))

    def _wire(self, step: Step, prefix: str, fragment: Fragment, after: str,
              recorded: list[tuple[str, str]]) -> None:
        cx = self._context()
        fail = f"{prefix}._Failed"
        end = f"{prefix}._End"
        record = case.RECORD_STATE(prefix)
        for name, state in fragment.states.items():
            if not name.startswith(prefix + ".") or name.startswith(prefix + "._"):
                raise ValueError(f"state {name} of step {step.name}: names start with "
                                 f"'{prefix}.' (and '{prefix}._' is the compiler's)")
            self.states[name] = _replace(state, {NEXT: end, FAIL: fail, case.RECORD: record})
        self.states.update(case.step_states(
            cx, step.record_key, prefix, fragment, critical=step.critical, after=after,
            recorded=recorded))


def _in_partition(value: Any, partition: str) -> Any:
    """Task resources name the partition (``arn:aws-cn:states:::aws-sdk:…`` in China)."""
    if isinstance(value, dict):
        return {k: (v.replace("arn:aws:states:::", f"arn:{partition}:states:::", 1)
                    if k == "Resource" and isinstance(v, str) else _in_partition(v, partition))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_in_partition(v, partition) for v in value]
    return value


def _replace(value: Any, marks: dict[str, str]) -> Any:
    if isinstance(value, str):
        return marks.get(value, value)
    if isinstance(value, dict):
        return {k: _replace(v, marks) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, marks) for v in value]
    return value
