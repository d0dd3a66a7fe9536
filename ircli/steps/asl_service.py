"""The Step Functions form of leave-asg and remove-from-service: the instance out of its Auto
Scaling group and its load balancers, as the CLI steps take it out (see
:mod:`ircli.steps.asl_paths` for what every compiled step shares).
"""

from __future__ import annotations

from typing import Any

from ircli.core.asl import choice, end_pass, map_state, pass_state, task
from ircli.core.step import NEXT, RECORD, Fragment
from ircli.steps.asl_paths import IID
from ircli.steps.asl_paths import step_path as _s


# -- Auto Scaling ---------------------------------------------------------------------------
def asg_lookup(p: str, found: str, none: str) -> dict[str, dict[str, Any]]:
    """The instance's Auto Scaling group as the CLI records it, at ``$.steps.<p>.asg``
    (null when it is in none, or already leaving)."""
    return {
        f"{p}.Asg": task("autoscaling", "describeAutoScalingInstances",
                         {"InstanceIds.$": f"States.Array({IID})"},
                         result_selector={"items.$": "$.AutoScalingInstances",
                                          "n.$": "States.ArrayLength($.AutoScalingInstances)"},
                         result_path=_s(p, "found"), next_state=f"{p}.AsgAny"),
        f"{p}.AsgAny": choice([{"Variable": _s(p, "found.n"), "NumericEquals": 0,
                                "Next": f"{p}.AsgNone"}], f"{p}.AsgFirst"),
        f"{p}.AsgFirst": pass_state({"i.$": f"States.ArrayGetItem({_s(p, 'found.items')}, 0)"},
                                    _s(p, "first"), f"{p}.AsgLeaving"),
        f"{p}.AsgLeaving": choice([{"Or": [
            {"Variable": _s(p, "first.i.LifecycleState"), "StringMatches": "Detach*"},
            {"Variable": _s(p, "first.i.LifecycleState"), "StringMatches": "Terminat*"}],
            "Next": f"{p}.AsgNone"}], f"{p}.AsgSome"),
        f"{p}.AsgNone": {"Type": "Pass", "Result": None, "ResultPath": _s(p, "asg"),
                         "Next": none},
        f"{p}.AsgSome": pass_state({"name.$": _s(p, "first.i.AutoScalingGroupName"),
                                    "lifecycle_state.$": _s(p, "first.i.LifecycleState"),
                                    "availability_zone.$": _s(p, "first.i.AvailabilityZone")},
                                   _s(p, "asg"), found),
    }


def detach(p: str, next_state: str) -> dict[str, Any]:
    return task("autoscaling", "detachInstances", {
        "InstanceIds.$": f"States.Array({IID})", "AutoScalingGroupName.$": _s(p, "asg.name"),
        "ShouldDecrementDesiredCapacity": False}, next_state=next_state,
        comment="desired capacity unchanged: the group launches a healthy replacement")


def leave_asg(p: str, permissions: tuple[Any, ...]) -> Fragment:
    states = asg_lookup(p, f"{p}.Before", NEXT)
    states[f"{p}.Before"] = pass_state({"auto_scaling_group.$": _s(p, "asg")}, _s(p, "before"),
                                       RECORD)
    states[f"{p}.Detach"] = detach(p, NEXT)
    return Fragment(states, start=f"{p}.Asg", permissions=permissions,
                    record_at=f"{p}.Detach", before=_s(p, "before"))


# -- Load balancers ---------------------------------------------------------------------------
def remove_from_service(p: str, permissions: tuple[Any, ...]) -> Fragment:
    """Deregister from every ELBv2 target group (instance targets, and ip targets of the
    instance's addresses in its VPC) and classic load balancer; detach again from the ASG."""
    ips = "$.instance.NetworkInterfaces[*].PrivateIpAddresses[*].PrivateIpAddress"
    target = {"Id.$": "$.d.Target.Id", "Port.$": "$.d.Target.Port"}
    per_target = {
        f"{p}.T.Kind": choice([
            {"And": [{"Variable": "$.d.TargetHealth.State", "StringEquals": "draining"}],
             "Next": f"{p}.T.No"},
            {"And": [{"Variable": "$.kind", "StringEquals": "instance"},
                     {"Variable": "$.d.Target.Id", "StringEqualsPath": "$.iid"}],
             "Next": f"{p}.T.Yes"},
            {"And": [{"Variable": "$.kind", "StringEquals": "ip"},
                     {"Variable": "$.vpc", "StringEqualsPath": "$.my_vpc"}],
             "Next": f"{p}.T.Ip"}], f"{p}.T.No"),
        f"{p}.T.Ip": pass_state({"mine.$": "States.ArrayContains($.ips, $.d.Target.Id)"},
                                "$.ip", f"{p}.T.IpMine"),
        f"{p}.T.IpMine": choice([{"Variable": "$.ip.mine", "BooleanEquals": True,
                                  "Next": f"{p}.T.Yes"}], f"{p}.T.No"),
        f"{p}.T.Yes": end_pass({"record": [{
            "id.$": "$.d.Target.Id", "port.$": "$.d.Target.Port",
            "state.$": "$.d.TargetHealth.State"}], "param": [target]}),
        f"{p}.T.No": end_pass({"record": [], "param": []}),
    }
    per_group = {
        f"{p}.G.Health": task("elasticloadbalancingv2", "describeTargetHealth",
                              {"TargetGroupArn.$": "$.tg.TargetGroupArn"},
                              result_selector={"d.$": "$.TargetHealthDescriptions"},
                              result_path="$.health", next_state=f"{p}.G.Targets", catch=None),
        f"{p}.G.Targets": map_state("$.health.d", {
            "d.$": "$$.Map.Item.Value", "kind.$": "$.tg.TargetType", "iid.$": "$.iid",
            "vpc.$": "$.tg.VpcId", "my_vpc.$": "$.my_vpc", "ips.$": "$.ips"},
            per_target, f"{p}.T.Kind", result_path="$.targets", next_state=f"{p}.G.Out",
            catch=None, concurrency=0),
        f"{p}.G.Out": pass_state({
            "arn.$": "$.tg.TargetGroupArn", "name.$": "$.tg.TargetGroupName",
            "targets.$": "$.targets[*].record[*]", "params.$": "$.targets[*].param[*]",
            "n.$": "States.ArrayLength($.targets[*].record[*])"}, "$.out", f"{p}.G.Held"),
        f"{p}.G.Held": choice([{"Variable": "$.out.n", "NumericGreaterThan": 0,
                                "Next": f"{p}.G.Yes"}], f"{p}.G.No"),
        f"{p}.G.Yes": end_pass({"tg.$": "States.Array($.out)"}),
        f"{p}.G.No": end_pass({"tg": []}),
    }
    per_elb = {
        f"{p}.L.Has": pass_state({
            "keep.$": "States.ArrayContains($.lb.Instances[*].InstanceId, $.iid)"}, "$.has",
            f"{p}.L.Keep"),
        f"{p}.L.Keep": choice([{"Variable": "$.has.keep", "BooleanEquals": True,
                                "Next": f"{p}.L.Yes"}], f"{p}.L.No"),
        f"{p}.L.Yes": end_pass({"n.$": "States.Array($.lb.LoadBalancerName)"}),
        f"{p}.L.No": end_pass({"n": []}),
    }
    states = asg_lookup(p, f"{p}.Groups", f"{p}.Groups")
    states.update({
        f"{p}.Groups": task("elasticloadbalancingv2", "describeTargetGroups", {"PageSize": 400},
                            result_selector={"g.$": "$.TargetGroups"},
                            result_path=_s(p, "tgs"), next_state=f"{p}.Health"),
        f"{p}.Health": map_state(_s(p, "tgs.g"), {
            "tg.$": "$$.Map.Item.Value", "iid.$": IID, "my_vpc.$": "$.instance.VpcId",
            "ips.$": ips}, per_group, f"{p}.G.Health", result_path=_s(p, "held"),
            next_state=f"{p}.Elbs", concurrency=0),
        f"{p}.Elbs": task("elasticloadbalancing", "describeLoadBalancers", {"PageSize": 400},
                          result_selector={"l.$": "$.LoadBalancerDescriptions"},
                          result_path=_s(p, "lbs"), next_state=f"{p}.ElbHas"),
        f"{p}.ElbHas": map_state(_s(p, "lbs.l"), {"lb.$": "$$.Map.Item.Value", "iid.$": IID},
                                 per_elb, f"{p}.L.Has", result_path=_s(p, "elbs"),
                                 next_state=f"{p}.Before", concurrency=0),
        f"{p}.Before": pass_state({
            "auto_scaling_group.$": _s(p, "asg"),
            "target_groups.$": _s(p, "held[*].tg[*]"),
            "classic_elbs.$": _s(p, "elbs[*].n[*]")}, _s(p, "before"),
            f"{p}.Count"),
        f"{p}.Count": pass_state({
            "tg.$": f"States.ArrayLength({_s(p, 'before.target_groups')})",
            "elb.$": f"States.ArrayLength({_s(p, 'before.classic_elbs')})"}, _s(p, "n"),
            f"{p}.Any"),
        f"{p}.Any": choice([
            {"Variable": _s(p, "n.tg"), "NumericGreaterThan": 0, "Next": RECORD},
            {"Variable": _s(p, "n.elb"), "NumericGreaterThan": 0, "Next": RECORD},
            {"Variable": _s(p, "asg"), "IsNull": False, "Next": RECORD}], NEXT),
        f"{p}.Deregister": map_state(_s(p, "before.target_groups"), {
            "tg.$": "$$.Map.Item.Value"}, {f"{p}.D.One": {
                **task("elasticloadbalancingv2", "deregisterTargets", {
                    "TargetGroupArn.$": "$.tg.arn", "Targets.$": "$.tg.params"},
                    next_state="", catch=None), "End": True}},
            f"{p}.D.One", result_path=None, next_state=f"{p}.Classic"),
        f"{p}.Classic": map_state(_s(p, "before.classic_elbs"), {
            "name.$": "$$.Map.Item.Value", "iid.$": IID}, {f"{p}.C.One": {
                **task("elasticloadbalancing", "deregisterInstancesFromLoadBalancer", {
                    "LoadBalancerName.$": "$.name",
                    "Instances": [{"InstanceId.$": "$.iid"}]}, next_state="", catch=None),
                "End": True}},
            f"{p}.C.One", result_path=None, next_state=f"{p}.StillInAsg"),
        f"{p}.StillInAsg": choice([{"Variable": _s(p, "asg"), "IsNull": False,
                                    "Next": f"{p}.Detach"}], NEXT),
        f"{p}.Detach": detach(p, NEXT),
    })
    for name in (f"{p}.Deregister", f"{p}.Classic"):
        inner = states[name]["ItemProcessor"]["States"]
        for state in inner.values():
            state.pop("Next", None)
    return Fragment(states, start=f"{p}.Asg", permissions=permissions,
                    record_at=f"{p}.Deregister", before=_s(p, "before"))
