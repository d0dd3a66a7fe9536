"""Resolve the instance and record its pre-change state in the case."""

from __future__ import annotations

from typing import Any

from ircli.aws.ec2 import describe_instance, display_name, enis, require_live, tag_value
from ircli.core.asl import choice, end_pass, first, map_state, task
from ircli.core.engine import RunContext
from ircli.core.step import FAIL, NEXT, RECORD, CompileContext, Fragment, Step, StepPlan, register
from ircli.steps.resource_change import RecordPreState


@register
class ResolveInstance(Step):
    """Find the instance in this region; refuse malformed, unknown and terminated ids."""

    name = "resolve"
    title = "Resolve the instance"
    permissions = ("ec2:DescribeInstances",)
    critical = True
    validates_input = True

    def compile(self, cc: CompileContext) -> Fragment | None:
        """DescribeInstances on the finding's instance into ``$.instance``; a terminated or
        unknown instance fails the run (critical)."""
        p = cc.prefix
        return Fragment({
            f"{p}.Describe": task("ec2", "describeInstances",
                                  {"InstanceIds.$": "States.Array($.ircli.target)"},
                                  result_selector={"i.$": first("$.Reservations[*].Instances[*]")},
                                  result_path=f"$.steps.{p}", next_state=f"{p}.Keep"),
            f"{p}.Keep": {"Type": "Pass", "InputPath": f"$.steps.{p}.i",
                          "ResultPath": "$.instance", "Next": f"{p}.Volumes"},
            # The EBS volumes, flat: every later step iterates over these.
            f"{p}.Volumes": map_state("$.instance.BlockDeviceMappings",
                                      {"b.$": "$$.Map.Item.Value"}, {
                f"{p}.V.Ebs": choice([{"Variable": "$.b.Ebs", "IsPresent": True,
                                       "Next": f"{p}.V.Yes"}], f"{p}.V.No"),
                f"{p}.V.Yes": end_pass({"e": [{
                    "DeviceName.$": "$.b.DeviceName", "VolumeId.$": "$.b.Ebs.VolumeId",
                    "DeleteOnTermination.$": "$.b.Ebs.DeleteOnTermination"}]}),
                f"{p}.V.No": end_pass({"e": []})}, f"{p}.V.Ebs",
                result_path=f"$.steps.{p}.volumes", next_state=f"{p}.Flat", concurrency=0),
            f"{p}.Flat": {"Type": "Pass", "InputPath": f"$.steps.{p}.volumes[*].e[*]",
                          "ResultPath": "$.ebs", "Next": f"{p}.Live"},
            f"{p}.Live": {"Type": "Choice", "Choices": [
                {"Or": [{"Variable": "$.instance.State.Name", "StringEquals": s}
                        for s in ("terminated", "shutting-down")], "Next": f"{p}.Gone"}],
                "Default": NEXT},
            f"{p}.Gone": {"Type": "Pass", "Result": {"Error": "ircli.InstanceGone",
                                                     "Cause": "the instance is terminated"},
                          "ResultPath": "$.error", "Next": FAIL},
        }, start=f"{p}.Describe", permissions=self.permissions)

    def plan(self, ctx: RunContext) -> StepPlan:
        instance = describe_instance(ctx.aws, ctx.target_id)
        require_live(instance)
        ctx.facts["instance"] = instance
        state = instance["State"]["Name"]
        return StepPlan(
            notes=[f"{display_name(instance)}, {instance.get('InstanceType')}, {state}, "
                   f"{len(instance.get('NetworkInterfaces', []))} ENI(s), "
                   f"{ctx.aws.region}"],
            local_change=True,
        )


def pre_change_state(instance: dict[str, Any]) -> dict[str, Any]:
    """What containment may change, as DescribeInstances shows it (no extra API call)."""
    return {
        "instance_id": instance["InstanceId"],
        "name": tag_value(instance, "Name"),
        "state": instance["State"]["Name"],
        "instance_type": instance.get("InstanceType"),
        "lifecycle": instance.get("InstanceLifecycle", "on-demand"),
        "platform": instance.get("PlatformDetails") or instance.get("Platform") or "Linux/UNIX",
        "vpc_id": instance.get("VpcId"),
        "subnet_id": instance.get("SubnetId"),
        "availability_zone": instance.get("Placement", {}).get("AvailabilityZone"),
        "image_id": instance.get("ImageId"),
        "launch_time": str(instance.get("LaunchTime")),
        "owner_id": instance.get("OwnerId"),
        "network_interfaces": [
            {
                "id": eni["NetworkInterfaceId"],
                "device_index": eni.get("Attachment", {}).get("DeviceIndex"),
                "vpc_id": eni.get("VpcId"),
                "subnet_id": eni.get("SubnetId"),
                "groups": [g["GroupId"] for g in eni.get("Groups", [])],
                "group_names": [g.get("GroupName") for g in eni.get("Groups", [])],
                "private_ips": [p.get("PrivateIpAddress") for p in
                                eni.get("PrivateIpAddresses", [])],
                "public_ip": eni.get("Association", {}).get("PublicIp"),
                "ip_owner": eni.get("Association", {}).get("IpOwnerId"),
            }
            for eni in enis(instance)
        ],
        "instance_profile_arn": instance.get("IamInstanceProfile", {}).get("Arn"),
        "block_devices": [
            {
                "device": bdm["DeviceName"],
                "volume_id": bdm.get("Ebs", {}).get("VolumeId"),
                "delete_on_termination": bdm.get("Ebs", {}).get("DeleteOnTermination"),
            }
            for bdm in instance.get("BlockDeviceMappings", [])
        ],
        "root_device": instance.get("RootDeviceName"),
        "tags": {t["Key"]: t["Value"] for t in instance.get("Tags", []) or []},
    }


@register
class RecordState(RecordPreState):
    """Write the pre-change state to the case before anything changes (once per case)."""

    name = "record"
    title = "Record the pre-change state"
    permissions = ("ec2:DescribeInstances",)
    critical = False  # isolation goes ahead even if this fails: each step records its own before

    def compile(self, cc: CompileContext) -> Fragment | None:
        """The instance as DescribeInstances showed it, in the case before any change."""
        p = cc.prefix
        return Fragment({
            # Once per case: a re-delivered finding keeps the first record.
            f"{p}.Found": {"Type": "Choice", "Choices": [
                {"Variable": f"$.record.{p}.before", "IsPresent": True, "Next": NEXT}],
                "Default": RECORD},
            f"{p}.Kept": {"Type": "Pass", "Next": NEXT},
        }, start=f"{p}.Found", record_at=f"{p}.Kept", before="$.instance")

    def record(self, ctx: RunContext) -> StepPlan:
        instance = ctx.facts["instance"]
        state = pre_change_state(instance)
        plan = StepPlan(before=state,
                        notes=[f"{len(state['network_interfaces'])} ENI(s), "
                               f"{len(state['block_devices'])} volume(s)"])
        if _carries_ircli_groups(instance):
            # A group name is attacker-writable: never a reason to stop containment.
            plan.warnings.append(
                f"Instance {instance['InstanceId']} already sits in a group named like ircli's, "
                "but no case here records its original state: these groups are recorded as its "
                "original ones. If another machine contained it, pass --case-id with that case "
                "(copy its directory here) so release restores the right groups.")
        return plan


def _carries_ircli_groups(instance: dict[str, Any]) -> bool:
    return any(g.get("GroupName", "").startswith(("ircli-isolation", "ircli-transition"))
               for eni in instance.get("NetworkInterfaces", []) for g in eni.get("Groups", []))
