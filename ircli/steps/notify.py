"""Tell the team: one SNS message with the case, the target, what was done, where the evidence is.

The message is written when the step runs, from the results of the steps before it, so it says
what happened rather than what was planned. A missing topic skips the step with a warning; a
failed publish fails only this step (the containment before it stands).
"""

from __future__ import annotations

import re
import socket
from typing import Any

from ircli.core.engine import RunContext, StepResult
from ircli.core.errors import InvalidInput
from ircli.core.step import Call, Step, StepPlan, register
from ircli.evidence.ship import case_prefix

TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
SUBJECT_LIMIT = 99  # SNS: under 100 printable ASCII characters
_MARK = {"done": "done", "already-done": "already so", "skipped": "skipped",
         "failed": "FAILED", "not-run": "not run", "planned": "planned"}


@register
class Notify(Step):
    """Publish a summary of the case to an SNS topic (the runbook's, else --notify-topic)."""

    name = "notify"
    runbook_targets = ("instance", "access-key", "ip")
    title = "Notify the team"
    permissions = ("sns:Publish",)

    def __init__(self, topic_arn: str | None = None) -> None:
        """topic_arn: the SNS topic; default --notify-topic, IRCLI_NOTIFY_TOPIC, [notify] topic"""
        if topic_arn is not None:
            check_topic_arn(topic_arn)
        self.topic_arn = topic_arn

    def plan(self, ctx: RunContext) -> StepPlan:
        topic = self.topic_arn or ctx.facts.get("notify_topic")
        if not topic:
            return StepPlan(skip_reason="no notification topic configured", warnings=[
                "No notification was sent: set --notify-topic, IRCLI_NOTIFY_TOPIC, or "
                "`[notify]` / `topic = \"arn:aws:sns:...\"` in the ircli config file."])
        check_topic_arn(topic)
        params = {"TopicArn": topic, "Subject": "", "Message": ""}
        return StepPlan(calls=[Call("sns", "publish", params,
                                    f"publish the case summary to {topic}")],
                        data={"topic_arn": topic})

    def apply(self, ctx: RunContext, plan: StepPlan) -> None:
        subject, message = summary(ctx)
        for call in plan.calls:
            call.params.update(Subject=subject, Message=message)
            response = ctx.execute(call)
            plan.data["message_id"] = response.get("MessageId")


def check_topic_arn(topic: str) -> str:
    if not TOPIC_ARN.match(topic):
        raise InvalidInput(f"{topic!r} is not an SNS topic ARN.",
                           "Topic ARNs read arn:aws:sns:REGION:ACCOUNT:NAME.")
    return topic


def summary(ctx: RunContext) -> tuple[str, str]:
    """(subject, body) of the case summary, from the results recorded so far in this run."""
    case_id = ctx.case.case_id if ctx.case else "(no case)"
    runbook = ctx.facts.get("runbook") or "ircli"
    target = _target(ctx)
    results: list[StepResult] = ctx.facts.get("step_results", [])
    failed = [r for r in results if r.status == "failed"]
    outcome = "FAILED STEPS" if failed else "done"
    subject = f"[ircli] {case_id}: {runbook} on {ctx.target_id} - {outcome}"
    subject = subject.encode("ascii", "replace").decode()[:SUBJECT_LIMIT]
    lines = [f"ircli case {case_id}", f"Runbook: {runbook}", f"Target: {target}",
             f"Region: {ctx.aws.region}"]
    finding = ctx.facts.get("finding")
    if finding:
        lines.append(f"Finding: {finding.get('type')} ({finding.get('id')}), severity "
                     f"{finding.get('severity')}")
    lines += ["", "What was done:"]
    for result in results:
        lines.append(f"  - {result.title}: {_MARK.get(result.status, result.status)}")
        lines += [f"      {change}" for change in result.changes]
        if result.status in ("failed", "skipped", "already-done") and result.detail:
            lines.append(f"      ({result.detail})")
    lines += ["", f"Evidence: {_evidence(ctx, case_id)}"]
    lines.append(f"Run by: {ctx.aws.identity()['arn']}")
    return subject, "\n".join(lines) + "\n"


def _target(ctx: RunContext) -> str:
    instance: dict[str, Any] = ctx.facts.get("instance") or {}
    name = next((t["Value"] for t in instance.get("Tags", []) or [] if t["Key"] == "Name"), None)
    if name:
        return f"{ctx.target_id} ({name})"
    user = ctx.facts.get("user") or {}
    return f"{ctx.target_id} ({user['Arn']})" if user.get("Arn") else ctx.target_id


def _evidence(ctx: RunContext, case_id: str) -> str:
    bucket = ctx.facts.get("evidence_bucket")
    where = f"case directory {ctx.case.path} on {socket.gethostname()}" if ctx.case else ""
    if bucket:
        return f"s3://{bucket}/{case_prefix(case_id)} (shipped as the run goes); {where}"
    return f"{where} (no evidence bucket configured: `ircli evidence sync {case_id}` ships it)"
