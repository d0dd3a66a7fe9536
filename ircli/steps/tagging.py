"""Tag the instance and its volumes, so anyone in the console sees the case at a glance."""

from __future__ import annotations

from typing import Any

from ircli.aws.ec2 import tag_value
from ircli.core.clock import iso
from ircli.core.engine import RunContext
from ircli.core.step import Call, CompileContext, Fragment, Step, StepPlan, register
from ircli.steps.names import (
    TAG_CASE,
    TAG_CONTAINED_AT,
    TAG_CONTAINED_BY,
    TAG_DEVICE,
    TAG_RELEASED_AT,
    TAG_STATUS,
)


@register
class TagContained(Step):
    """Case id, status ``contained``, UTC time and caller ARN on the instance and its volumes."""

    name = "tag"
    runbook_targets = ("instance",)
    title = "Tag instance and volumes"
    permissions = ("ec2:CreateTags", "sts:GetCallerIdentity")
    undo_permissions = ("ec2:CreateTags",)

    def compile(self, cc: CompileContext) -> Fragment | None:
        from ircli.steps import asl_instance
        return asl_instance.tag(cc.prefix, self.permissions)

    def plan(self, ctx: RunContext) -> StepPlan:
        assert ctx.case is not None
        instance = ctx.facts["instance"]
        case_id = ctx.case.case_id
        already = (tag_value(instance, TAG_CASE) == case_id
                   and tag_value(instance, TAG_STATUS) == "contained")
        volumes = [(bdm["DeviceName"], bdm["Ebs"]["VolumeId"])
                   for bdm in instance.get("BlockDeviceMappings", []) if "Ebs" in bdm]
        if already and not ctx.facts.get("volume_tags_missing"):
            return StepPlan(notes=[f"already tagged contained for case {case_id}"])
        tags = [
            {"Key": TAG_CASE, "Value": case_id},
            {"Key": TAG_STATUS, "Value": "contained"},
            {"Key": TAG_CONTAINED_AT,
             "Value": tag_value(instance, TAG_CONTAINED_AT) or iso(ctx.clock.now())},
            {"Key": TAG_CONTAINED_BY, "Value": ctx.aws.identity()["arn"]},
        ]
        calls = [Call("ec2", "create_tags", {"Resources": [instance["InstanceId"]], "Tags": tags},
                      f"tag {instance['InstanceId']} contained (case {case_id})", dry_run=True)]
        calls += [Call("ec2", "create_tags", {"Resources": [vol], "Tags": [
            *tags, {"Key": TAG_DEVICE, "Value": device}]}, f"tag volume {vol} ({device})",
            dry_run=True) for device, vol in volumes]
        return StepPlan(calls=calls)

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        instance = ctx.facts["instance"]
        ids = [instance["InstanceId"]] + [bdm["Ebs"]["VolumeId"] for bdm in
                                          instance.get("BlockDeviceMappings", []) if "Ebs" in bdm]
        return StepPlan(calls=[Call("ec2", "create_tags", {"Resources": ids, "Tags": [
            {"Key": TAG_STATUS, "Value": "released"},
            {"Key": TAG_RELEASED_AT, "Value": iso(ctx.clock.now())}]},
            "tag instance and volumes released", dry_run=True)])
