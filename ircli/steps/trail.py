"""Undo CloudTrail tampering: record the trail, start logging again, restore its selectors.

Release does not stop logging again: a trail an attacker stopped is not "restored" by
stopping it twice. Release puts back only the event selectors ircli replaced.
"""

from __future__ import annotations

import re
from typing import Any

from ircli.core.clock import iso
from ircli.core.engine import RunContext
from ircli.core.errors import InvalidInput
from ircli.core.step import Call, Step, StepPlan, register
from ircli.steps.resource_change import RecordPreState, ResourceChange

_TRAIL = re.compile(r"^(arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:\d{12}:trail/)?"
                    r"[A-Za-z0-9][A-Za-z0-9._-]{2,127}$")
ALL_MANAGEMENT = [{"ReadWriteType": "All", "IncludeManagementEvents": True,
                   "DataResources": [], "ExcludeManagementEventSources": []}]


def check_trail_name(name: str) -> str:
    if not _TRAIL.match(name):
        raise InvalidInput(f"'{name}' is not a CloudTrail trail name or ARN.",
                           "Pass the trail's name or ARN (the finding's affected resource).")
    return name


def trail_selectors(ctx: RunContext, trail: str) -> dict[str, Any]:
    answer = ctx.aws.client("cloudtrail").get_event_selectors(TrailName=trail)
    return {key: answer[key] for key in ("EventSelectors", "AdvancedEventSelectors")
            if answer.get(key)}


def logs_management_writes(selectors: dict[str, Any]) -> bool:
    """True when the selectors still log every management write (what tampering removes)."""
    if selectors.get("AdvancedEventSelectors"):
        return True  # advanced selectors: shown for review, not judged here
    return any(s.get("IncludeManagementEvents", True) and s.get("ReadWriteType", "All")
               in ("All", "WriteOnly") for s in selectors.get("EventSelectors", []))


@register
class RecordTrail(RecordPreState):
    """Write the trail's configuration, status and selectors to the case."""

    name = "record-trail"
    title = "Record the trail's configuration and status"
    permissions = ("cloudtrail:GetTrail", "cloudtrail:GetTrailStatus",
                   "cloudtrail:GetEventSelectors")

    def record(self, ctx: RunContext) -> StepPlan:
        trail = str(ctx.facts["trail"])
        client = ctx.aws.client("cloudtrail")
        config = client.get_trail(Name=trail)["Trail"]
        status = client.get_trail_status(Name=trail)
        state = {"trail": trail, "arn": config.get("TrailARN"),
                 "bucket": config.get("S3BucketName"),
                 "multi_region": config.get("IsMultiRegionTrail"),
                 "log_file_validation": config.get("LogFileValidationEnabled"),
                 "is_logging": bool(status.get("IsLogging")),
                 "stopped_at": iso(status["StopLoggingTime"])
                 if status.get("StopLoggingTime") else None,
                 "selectors": trail_selectors(ctx, trail)}
        return StepPlan(before=state, notes=[
            f"logging {'on' if state['is_logging'] else 'OFF'}, bucket {state['bucket']}"])


@register
class StartLogging(Step):
    """``StartLogging`` when the trail is stopped; release leaves it logging."""

    name = "start-logging"
    title = "Start logging on the trail again"
    permissions = ("cloudtrail:GetTrailStatus", "cloudtrail:StartLogging")
    runbook_targets = ("trail",)
    critical = True

    def plan(self, ctx: RunContext) -> StepPlan:
        trail = str(ctx.facts["trail"])
        status = ctx.aws.client("cloudtrail").get_trail_status(Name=trail)
        if status.get("IsLogging"):
            return StepPlan(notes=[f"trail {trail} is logging"])
        return StepPlan(before={"trail": trail, "is_logging": False}, calls=[Call(
            "cloudtrail", "start_logging", {"Name": trail}, f"start logging on trail {trail}")],
            warnings=["Events between the stop and now were not delivered by this trail: "
                      "look in CloudTrail event history (90 days of management events)."])


@register
class RestoreTrailSelectors(ResourceChange):
    """Log every management event again when the selectors stopped logging writes."""

    name = "restore-trail-selectors"
    title = "Restore the trail's management-event logging"
    permissions = ("cloudtrail:GetEventSelectors", "cloudtrail:PutEventSelectors")
    undo_permissions = ("cloudtrail:PutEventSelectors",)
    runbook_targets = ("trail",)
    subject, setting = "trail", "selectors"
    already = "the selectors log every management write"
    record_unchanged = False  # a release must not "put back" selectors it never replaced
    undo_warnings = ("Release puts back the selectors the trail had when contained: "
                     "management writes stop being logged again.",)

    def read(self, ctx: RunContext) -> tuple[str, Any]:
        trail = str(ctx.facts["trail"])
        return trail, trail_selectors(ctx, trail)

    def change(self, resource: str, current: Any) -> Call | None:
        if logs_management_writes(current):
            return None
        kept = [{**s, "IncludeManagementEvents": True, "ReadWriteType": "All"}
                for s in current.get("EventSelectors", [])] or ALL_MANAGEMENT
        return Call("cloudtrail", "put_event_selectors", {
            "TrailName": resource, "EventSelectors": kept},
            f"log all management events on trail {resource} again (data selectors kept)")

    def restore(self, resource: str, recorded: Any) -> Call:
        return Call("cloudtrail", "put_event_selectors", {
            "TrailName": resource, "EventSelectors": recorded.get("EventSelectors") or []},
            f"put back the recorded event selectors of trail {resource}")
