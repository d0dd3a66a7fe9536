"""Keep the instance alive as evidence: no API termination, stop on shutdown, keep volumes."""

from __future__ import annotations

from typing import Any

from ircli.core.engine import RunContext
from ircli.core.step import Call, CompileContext, Fragment, Step, StepPlan, register


@register
class Protect(Step):
    """Termination protection on, shutdown behaviour ``stop``, ``DeleteOnTermination=false``."""

    name = "protect"
    runbook_targets = ("instance",)
    title = "Protect the evidence"
    permissions = ("ec2:DescribeInstanceAttribute", "ec2:ModifyInstanceAttribute")
    undo_permissions = ("ec2:ModifyInstanceAttribute",)

    def compile(self, cc: CompileContext) -> Fragment | None:
        from ircli.steps import asl_instance
        return asl_instance.protect(cc.prefix, self.permissions)

    def plan(self, ctx: RunContext) -> StepPlan:
        instance = ctx.facts["instance"]
        iid = instance["InstanceId"]
        ec2 = ctx.aws.client("ec2")
        protected = ec2.describe_instance_attribute(
            InstanceId=iid, Attribute="disableApiTermination")["DisableApiTermination"]["Value"]
        shutdown = ec2.describe_instance_attribute(
            InstanceId=iid, Attribute="instanceInitiatedShutdownBehavior"
        )["InstanceInitiatedShutdownBehavior"]["Value"]
        delete_on_term = {bdm["DeviceName"]: bdm["Ebs"].get("DeleteOnTermination", False)
                          for bdm in instance.get("BlockDeviceMappings", []) if "Ebs" in bdm}
        plan = StepPlan(before={"disable_api_termination": protected,
                                "shutdown_behavior": shutdown,
                                "delete_on_termination": delete_on_term})
        if instance.get("InstanceLifecycle") == "spot":
            plan.warnings.append("Spot instance: termination protection is not available and AWS "
                                 "may reclaim it; snapshot and collect first.")
        elif not protected:
            plan.calls.append(Call("ec2", "modify_instance_attribute", {
                "InstanceId": iid, "DisableApiTermination": {"Value": True}},
                "turn termination protection on", dry_run=True))
        if shutdown != "stop":
            # The Attribute/Value form: AWS accepts it, and the emulator honours only this one.
            plan.calls.append(Call("ec2", "modify_instance_attribute", {
                "InstanceId": iid, "Attribute": "instanceInitiatedShutdownBehavior",
                "Value": "stop"}, f"shutdown behaviour {shutdown} -> stop", dry_run=True))
        keep = [dev for dev, flag in delete_on_term.items() if flag]
        if keep:
            plan.calls.append(_delete_on_termination(iid, keep, False))
        if not plan.calls:
            plan.notes.append("already protected")
        return plan

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        before = record.get("before")
        if not before:
            return None
        iid = ctx.target_id
        plan = StepPlan()
        if not before["disable_api_termination"]:
            plan.calls.append(Call("ec2", "modify_instance_attribute", {
                "InstanceId": iid, "DisableApiTermination": {"Value": False}},
                "turn termination protection off again", dry_run=True))
        if before["shutdown_behavior"] != "stop":
            plan.calls.append(Call("ec2", "modify_instance_attribute", {
                "InstanceId": iid, "Attribute": "instanceInitiatedShutdownBehavior",
                "Value": before["shutdown_behavior"]},
                f"shutdown behaviour back to {before['shutdown_behavior']}", dry_run=True))
        restore = [dev for dev, flag in before["delete_on_termination"].items() if flag]
        if restore:
            plan.calls.append(_delete_on_termination(iid, restore, True))
        return plan


def _delete_on_termination(iid: str, devices: list[str], value: bool) -> Call:
    return Call("ec2", "modify_instance_attribute", {
        "InstanceId": iid, "BlockDeviceMappings": [
            {"DeviceName": dev, "Ebs": {"DeleteOnTermination": value}} for dev in devices]},
        f"DeleteOnTermination={str(value).lower()} on {', '.join(devices)}", dry_run=True)
