"""Take the instance out of service: out of its Auto Scaling group and its load balancers.

Termination protection does not stop Auto Scaling, and an isolated instance fails its load
balancer health checks at once: an Auto Scaling group using ELB health checks would terminate
the evidence. So ``leave-asg`` detaches the instance *before* isolation (the desired capacity
stays, so the group launches a healthy replacement); ``remove-from-service`` later deregisters
it from every load balancer, and detaches again should the first detach have failed.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ircli.core.engine import RunContext
from ircli.core.step import Call, CompileContext, Fragment, Step, StepPlan, register

_GONE = ("draining",)  # already leaving: neither deregistered again nor restored


@register
class LeaveAutoScaling(Step):
    """Detach from the Auto Scaling group before isolation, so health checks cannot kill it."""

    name = "leave-asg"
    runbook_targets = ("instance",)
    title = "Leave the Auto Scaling group"
    permissions = ("autoscaling:DescribeAutoScalingInstances", "autoscaling:DetachInstances")
    undo_permissions = ("autoscaling:AttachInstances",)

    def __init__(self, reattach_asg: bool = True) -> None:
        """reattach_asg: release puts the instance back into its group"""
        self.reattach_asg = reattach_asg

    def compile(self, cc: CompileContext) -> Fragment | None:
        from ircli.steps import asl_service
        return asl_service.leave_asg(cc.prefix, self.permissions)

    def plan(self, ctx: RunContext) -> StepPlan:
        iid = ctx.facts["instance"]["InstanceId"]
        asg = _auto_scaling_group(ctx, iid)
        plan = StepPlan(before={"auto_scaling_group": asg})
        if asg is None:
            plan.notes.append("not in an Auto Scaling group")
            return plan
        plan.calls.append(_detach(iid, asg))
        plan.notes.append("detached before isolation: a failing ELB health check can no longer "
                          "make the group terminate the instance")
        return plan

    def apply(self, ctx: RunContext, plan: StepPlan) -> None:
        try:
            super().apply(ctx, plan)
        except Exception:
            ctx.warnings.append(
                "The instance could not be detached from its Auto Scaling group before "
                "isolation: once isolated it fails its health checks and the group may "
                "TERMINATE it (termination protection does not stop Auto Scaling). "
                "remove-from-service tries again; if it fails too, run `aws autoscaling "
                "suspend-processes --scaling-processes ReplaceUnhealthy "
                "--auto-scaling-group-name NAME` now.")
            raise

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        asg = (record.get("before") or {}).get("auto_scaling_group")
        if not asg:
            return None
        return _reattach(ctx.target_id, asg, self.reattach_asg)


def _detach(iid: str, asg: dict[str, Any]) -> Call:
    return Call("autoscaling", "detach_instances", {
        "InstanceIds": [iid], "AutoScalingGroupName": asg["name"],
        "ShouldDecrementDesiredCapacity": False},
        f"detach from Auto Scaling group {asg['name']} (desired capacity unchanged)")


def _reattach(iid: str, asg: dict[str, Any], reattach: bool) -> StepPlan:
    plan = StepPlan()
    if not reattach:
        plan.notes.append(f"--no-reattach-asg: left out of {asg['name']}")
        return plan
    plan.calls.append(Call("autoscaling", "attach_instances", {
        "InstanceIds": [iid], "AutoScalingGroupName": asg["name"]},
        f"re-attach to Auto Scaling group {asg['name']} (AWS raises its desired "
        "capacity by one; lower it when the replacement is no longer needed)"))
    return plan


@register
class RemoveFromService(Step):
    """Detach from the Auto Scaling group and deregister from every load balancer."""

    name = "remove-from-service"
    runbook_targets = ("instance",)
    title = "Remove from service"
    permissions = (
        "autoscaling:DescribeAutoScalingInstances", "autoscaling:DetachInstances",
        "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
    )
    undo_permissions = (
        "autoscaling:AttachInstances", "elasticloadbalancing:RegisterTargets",
        "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
    )

    def __init__(self, reattach_asg: bool = True) -> None:
        self.reattach_asg = reattach_asg

    def compile(self, cc: CompileContext) -> Fragment | None:
        from ircli.steps import asl_service
        return asl_service.remove_from_service(cc.prefix, self.permissions)

    def plan(self, ctx: RunContext) -> StepPlan:
        instance = ctx.facts["instance"]
        iid = instance["InstanceId"]
        ips = {p["PrivateIpAddress"] for eni in instance.get("NetworkInterfaces", [])
               for p in eni.get("PrivateIpAddresses", [])}
        vpcs = {eni["VpcId"] for eni in instance.get("NetworkInterfaces", []) if eni.get("VpcId")}
        asg = _auto_scaling_group(ctx, iid)
        target_groups = _target_registrations(ctx, iid, ips, vpcs)
        elbs = _classic_elbs(ctx, iid)
        plan = StepPlan(before={"auto_scaling_group": asg, "target_groups": target_groups,
                                "classic_elbs": elbs})
        if asg:  # leave-asg did not run, or its detach failed
            plan.calls.append(_detach(iid, asg))
        for tg in target_groups:
            active = [t for t in tg["targets"] if t.get("state") not in _GONE]
            if active:
                plan.calls.append(Call("elbv2", "deregister_targets", {
                    "TargetGroupArn": tg["arn"], "Targets": [_target(t) for t in active]},
                    f"deregister from target group {tg['name']}",
                    tolerate=("InvalidTarget",)))
        for name in elbs:
            plan.calls.append(Call("elb", "deregister_instances_from_load_balancer", {
                "LoadBalancerName": name, "Instances": [{"InstanceId": iid}]},
                f"deregister from classic load balancer {name}"))
        if not plan.calls:
            plan.notes.append("not in an Auto Scaling group or behind a load balancer")
        return plan

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        before = record.get("before")
        if not before:
            return None
        iid = ctx.target_id
        plan = StepPlan()
        asg = before.get("auto_scaling_group")
        if asg:
            plan = _reattach(iid, asg, self.reattach_asg)
        for tg in before.get("target_groups", []):
            targets = [_target(t) for t in tg["targets"] if t.get("state") not in _GONE]
            if not targets:
                continue
            plan.calls.append(Call("elbv2", "register_targets", {
                "TargetGroupArn": tg["arn"], "Targets": targets},
                f"register again with target group {tg['name']}"))
        for name in before.get("classic_elbs", []):
            plan.calls.append(Call("elb", "register_instances_with_load_balancer", {
                "LoadBalancerName": name, "Instances": [{"InstanceId": iid}]},
                f"register again with classic load balancer {name}"))
        return plan


def _target(t: dict[str, Any]) -> dict[str, Any]:
    target: dict[str, Any] = {"Id": t["id"]}
    if t.get("port") is not None:
        target["Port"] = t["port"]
    if t.get("availability_zone"):
        target["AvailabilityZone"] = t["availability_zone"]
    return target


def _auto_scaling_group(ctx: RunContext, iid: str) -> dict[str, Any] | None:
    found = ctx.aws.client("autoscaling").describe_auto_scaling_instances(InstanceIds=[iid])
    for item in found.get("AutoScalingInstances", []):
        if item["LifecycleState"].startswith(("Detach", "Terminat")):
            continue
        return {"name": item["AutoScalingGroupName"], "lifecycle_state": item["LifecycleState"],
                "availability_zone": item.get("AvailabilityZone")}
    return None


def _target_registrations(ctx: RunContext, iid: str, ips: set[str], vpcs: set[str]
                          ) -> list[dict[str, Any]]:
    """Every target group holding the instance: by id, or by private IP for ip targets.

    A private IP is the instance's only inside its own VPC: the same address in another VPC
    (or registered from outside the group's VPC, zone ``all``) is someone else's host, so ip
    target groups count only in the instance's VPCs.
    """
    elbv2 = ctx.aws.client("elbv2")
    groups = [tg for page in elbv2.get_paginator("describe_target_groups").paginate()
              for tg in page["TargetGroups"] if tg.get("TargetType", "instance") == "instance"
              or (tg.get("TargetType") == "ip" and tg.get("VpcId") in vpcs)]

    def ours(target: dict[str, Any], kind: str) -> bool:
        if kind == "instance":
            return bool(target["Id"] == iid)
        return target["Id"] in ips and target.get("AvailabilityZone") != "all"

    def holding(tg: dict[str, Any]) -> dict[str, Any] | None:
        health = elbv2.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])
        kind = tg.get("TargetType", "instance")
        mine = [
            {"id": d["Target"]["Id"], "port": d["Target"].get("Port"),
             "availability_zone": d["Target"].get("AvailabilityZone"),
             "state": d.get("TargetHealth", {}).get("State")}
            for d in health["TargetHealthDescriptions"] if ours(d["Target"], kind)
        ]
        if not mine:
            return None
        return {"arn": tg["TargetGroupArn"], "name": tg["TargetGroupName"], "targets": mine}

    with ThreadPoolExecutor(max_workers=8) as pool:
        return [r for r in pool.map(holding, groups) if r]


def _classic_elbs(ctx: RunContext, iid: str) -> list[str]:
    pages = ctx.aws.client("elb").get_paginator("describe_load_balancers").paginate()
    return [lb["LoadBalancerName"] for page in pages for lb in page["LoadBalancerDescriptions"]
            if any(i["InstanceId"] == iid for i in lb.get("Instances", []))]
