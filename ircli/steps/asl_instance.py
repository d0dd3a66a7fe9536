"""The Step Functions form of the instance containment steps (``Step.compile`` builds these).

Each function returns one step's states: it reads AWS first, records (RECORD) before its first
change, and does the change the CLI step does, with the same names, tags and rules; a state
already right leaves it alone (check, then act), so a re-delivered finding changes nothing.
The execution's document holds the instance at ``$.instance`` (DescribeInstances) and each
step's own data at ``$.steps.<prefix>``.
"""

from __future__ import annotations

import json
from typing import Any

from ircli.core.asl import choice, end_pass, fail_with, first, map_state, pass_state, task
from ircli.core.step import FAIL, NEXT, RECORD, Fragment
from ircli.steps.names import (
    TAG_CASE,
    TAG_CONTAINED_AT,
    TAG_CONTAINED_BY,
    TAG_DEVICE,
    TAG_INSTANCE,
    TAG_MANAGED,
    TAG_STATUS,
    TRANSITION_GROUP,
)

IID = "$.ircli.target"
CASE = "$.ircli.case_id"
EBS = "$.ebs"  # the EBS volumes, as resolve lists them: DeviceName, VolumeId, DeleteOnTermination


def _s(p: str, path: str = "") -> str:
    return f"$.steps.{p}{'.' + path if path else ''}"


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


# -- Network isolation ------------------------------------------------------------------------
def _rule_signature(group: str) -> dict[str, Any]:
    """What a group holds, in a form Choice can compare (order-free counts and sets)."""
    sig: dict[str, Any] = {
        "managed.$": f"States.ArrayContains({group}.Tags, $.c.managed)"}
    for side, key in (("in", "IpPermissions"), ("out", "IpPermissionsEgress")):
        perms = f"{group}.{key}"
        sig.update({
            f"{side}_n.$": f"States.ArrayLength({perms})",
            f"{side}_proto.$": f"States.JsonToString(States.ArrayUnique({perms}[*].IpProtocol))",
            f"{side}_from.$": f"States.JsonToString(States.ArrayUnique({perms}[*].FromPort))",
            f"{side}_to.$": f"States.JsonToString(States.ArrayUnique({perms}[*].ToPort))",
            f"{side}_cidr.$": f"States.JsonToString({perms}[*].IpRanges[*].CidrIp)",
            f"{side}_cidr6.$": f"States.JsonToString({perms}[*].Ipv6Ranges[*].CidrIpv6)",
            f"{side}_groups.$": f"{perms}[*].UserIdGroupPairs[*].GroupId",
            f"{side}_lists.$": f"{perms}[*].PrefixListIds[*].PrefixListId",
        })
    return sig


def _all_traffic(side: str, sig: str) -> list[dict[str, Any]]:
    """Allow-all, IPv4 and IPv6, and no other peer: the transition group's rule, one side."""
    return [{"Variable": f"{sig}.{side}_proto", "StringEquals": '["-1"]'},
            {"Variable": f"{sig}.{side}_cidr", "StringEquals": '["0.0.0.0/0"]'},
            {"Variable": f"{sig}.{side}_cidr6", "StringEquals": '["::/0"]'},
            {"Variable": f"{sig}c.{side}_count", "NumericEquals": 0}]


def isolate(p: str, iso_name: str, ssm_egress: str, permissions: tuple[Any, ...]) -> Fragment:
    """Create or reuse, and verify, the transition and isolation groups of the instance's VPC;
    move every ENI transition -> isolation (Map), putting one back on its recorded groups if it
    cannot reach the isolation group. A group ircli would reuse that does not hold exactly
    ircli's rules, or lacks ircli's tag, ends the step before any ENI moves (never more open).
    """
    vpc = "$.instance.VpcId"
    tsig, isig = _s(p, "tsig"), _s(p, "isig")
    all_traffic = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                    "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]

    def find(name: str, key: str, next_state: str) -> dict[str, Any]:
        return task("ec2", "describeSecurityGroups", {"Filters": [
            {"Name": "vpc-id", "Values.$": f"States.Array({vpc})"},
            {"Name": "group-name", "Values": [name]}]},
            result_selector={"g.$": "$.SecurityGroups", "n.$": "States.ArrayLength("
                             "$.SecurityGroups)"}, result_path=_s(p, key), next_state=next_state)

    def tagged(name: str) -> list[dict[str, Any]]:
        return [{"ResourceType": "security-group", "Tags": [
            {"Key": TAG_MANAGED, "Value": "true"}, {"Key": "Name", "Value": name}]}]

    per_endpoint = {
        f"{p}.E.Kind": choice([
            {"And": [{"Variable": "$.e.VpcEndpointType", "StringEquals": "Interface"},
                     {"Or": [{"Variable": "$.e.ServiceName", "StringMatches": f"*.{svc}"}
                             for svc in ("ssm", "ssmmessages", "ec2messages", "s3")]}],
             "Next": f"{p}.E.Interface"},
            {"And": [{"Variable": "$.e.VpcEndpointType", "StringEquals": "Gateway"},
                     {"Variable": "$.e.ServiceName", "StringMatches": "*.s3"}],
             "Next": f"{p}.E.Gateway"}], f"{p}.E.Other"),
        f"{p}.E.Interface": end_pass({"g.$": "$.e.Groups[*].GroupId", "gw": []}),
        f"{p}.E.Gateway": end_pass({"g": [], "gw.$": "States.Array($.e.ServiceName)"}),
        f"{p}.E.Other": end_pass({"g": [], "gw": []}),
    }
    check_one = {f"{p}.H.Has": end_pass({"ok.$": "States.ArrayContains($.have, $.want)"})}
    states: dict[str, dict[str, Any]] = {
        f"{p}.Before": map_state("$.instance.NetworkInterfaces", {"eni.$": "$$.Map.Item.Value"},
                                 {f"{p}.B.One": end_pass({
                                     "id.$": "$.eni.NetworkInterfaceId",
                                     "groups.$": "$.eni.Groups[*].GroupId",
                                     "group_names.$": "$.eni.Groups[*].GroupName"})},
                                 f"{p}.B.One", result_path=_s(p, "before.network_interfaces"),
                                 next_state=f"{p}.Endpoints" if ssm_egress == "endpoints"
                                 else f"{p}.NoEndpoints"),
        f"{p}.NoEndpoints": {"Type": "Pass", "Result": {"groups": [], "lists": []},
                             "ResultPath": _s(p, "want"), "Next": f"{p}.WantCount"},
        f"{p}.Endpoints": task("ec2", "describeVpcEndpoints", {"Filters": [
            {"Name": "vpc-id", "Values.$": f"States.Array({vpc})"}]},
            result_selector={"e.$": "$.VpcEndpoints"}, result_path=_s(p, "ep"),
            next_state=f"{p}.EndpointKinds"),
        f"{p}.EndpointKinds": map_state(_s(p, "ep.e"), {"e.$": "$$.Map.Item.Value"},
                                        per_endpoint, f"{p}.E.Kind",
                                        result_path=_s(p, "epk"), next_state=f"{p}.Gateways",
                                        concurrency=0),
        f"{p}.Gateways": pass_state({"groups.$": f"States.ArrayUnique({_s(p, 'epk[*].g[*]')})",
                                     "gw.$": _s(p, "epk[*].gw[*]"),
                                     "n.$": f"States.ArrayLength({_s(p, 'epk[*].gw[*]')})"},
                                    _s(p, "eps"), f"{p}.AnyGateway"),
        f"{p}.AnyGateway": choice([{"Variable": _s(p, "eps.n"), "NumericGreaterThan": 0,
                                    "Next": f"{p}.PrefixLists"}], f"{p}.NoGateway"),
        f"{p}.NoGateway": pass_state({"groups.$": _s(p, "eps.groups"), "lists": []},
                                     _s(p, "want"), f"{p}.WantCount"),
        f"{p}.PrefixLists": task("ec2", "describeManagedPrefixLists", {"Filters": [
            {"Name": "prefix-list-name", "Values.$": _s(p, "eps.gw")}]},
            result_selector={"ids.$": "$.PrefixLists[*].PrefixListId"},
            result_path=_s(p, "pl"), next_state=f"{p}.Want"),
        f"{p}.Want": pass_state({"groups.$": _s(p, "eps.groups"), "lists.$": _s(p, "pl.ids")},
                                _s(p, "want"), f"{p}.WantCount"),
        f"{p}.WantCount": pass_state({
            "groups.$": f"States.ArrayLength({_s(p, 'want.groups')})",
            "lists.$": f"States.ArrayLength({_s(p, 'want.lists')})",
            "all.$": f"States.MathAdd(States.ArrayLength({_s(p, 'want.groups')}), "
                     f"States.ArrayLength({_s(p, 'want.lists')}))"},
            _s(p, "wantn"), f"{p}.FindT"),
        f"{p}.FindT": find(TRANSITION_GROUP, "ft", f"{p}.FindI"),
        f"{p}.FindI": find(iso_name, "fi", f"{p}.HaveT"),
        # The transition group: reused only when ircli's and allow-all both ways, exactly.
        f"{p}.HaveT": choice([{"Variable": _s(p, "ft.n"), "NumericEquals": 0,
                               "Next": f"{p}.HaveI"}], f"{p}.PickT"),
        f"{p}.PickT": pass_state({"g.$": f"States.ArrayGetItem({_s(p, 'ft.g')}, 0)"},
                                 _s(p, "t"), f"{p}.TaggedT"),
        f"{p}.TaggedT": choice([{"Variable": _s(p, "t.g.Tags"), "IsPresent": True,
                                 "Next": f"{p}.SigT"}], f"{p}.LookAlike"),
        f"{p}.SigT": pass_state(_rule_signature(_s(p, "t.g")), tsig, f"{p}.CountT"),
        f"{p}.CountT": pass_state({
            "in_count.$": f"States.MathAdd(States.ArrayLength({tsig}.in_groups), "
                          f"States.ArrayLength({tsig}.in_lists))",
            "out_count.$": f"States.MathAdd(States.ArrayLength({tsig}.out_groups), "
                           f"States.ArrayLength({tsig}.out_lists))"},
            f"{tsig}c", f"{p}.OursT"),
        f"{p}.OursT": choice([{"Variable": f"{tsig}.managed", "BooleanEquals": True,
                               "Next": f"{p}.ExactT"}], f"{p}.LookAlike"),
        f"{p}.ExactT": choice([{"And": [
            {"Variable": f"{tsig}.managed", "BooleanEquals": True},
            *_all_traffic("in", tsig), *_all_traffic("out", tsig)],
            "Next": f"{p}.KeepT"}], f"{p}.Drifted"),
        f"{p}.KeepT": pass_state({"id.$": _s(p, "t.g.GroupId")}, _s(p, "tid"), f"{p}.HaveI"),
        # The isolation group: ircli's, no ingress, egress exactly tcp/443 to the endpoints.
        f"{p}.HaveI": choice([{"Variable": _s(p, "fi.n"), "NumericEquals": 0,
                               "Next": f"{p}.Change"}], f"{p}.PickI"),
        f"{p}.PickI": pass_state({"g.$": f"States.ArrayGetItem({_s(p, 'fi.g')}, 0)"},
                                 _s(p, "i"), f"{p}.TaggedI"),
        f"{p}.TaggedI": choice([{"Variable": _s(p, "i.g.Tags"), "IsPresent": True,
                                 "Next": f"{p}.SigI"}], f"{p}.LookAlike"),
        f"{p}.SigI": pass_state(_rule_signature(_s(p, "i.g")), isig, f"{p}.CountI"),
        f"{p}.CountI": pass_state({
            "groups.$": f"States.ArrayLength({isig}.out_groups)",
            "lists.$": f"States.ArrayLength({isig}.out_lists)",
            "in_groups.$": f"States.ArrayLength({isig}.in_groups)",
            "in_lists.$": f"States.ArrayLength({isig}.in_lists)"}, f"{isig}c", f"{p}.OursI"),
        f"{p}.OursI": choice([{"Variable": f"{isig}.managed", "BooleanEquals": True,
                               "Next": f"{p}.HasI"}], f"{p}.LookAlike"),
        f"{p}.HasI": map_state(_s(p, "want.groups"), {"want.$": "$$.Map.Item.Value",
                                                      "have.$": f"{isig}.out_groups"},
                               check_one, f"{p}.H.Has", result_path=_s(p, "hasg"),
                               next_state=f"{p}.HasL", concurrency=0),
        f"{p}.HasL": map_state(_s(p, "want.lists"), {"want.$": "$$.Map.Item.Value",
                                                     "have.$": f"{isig}.out_lists"},
                               {f"{p}.L.Has": check_one[f"{p}.H.Has"]}, f"{p}.L.Has",
                               result_path=_s(p, "hasl"), next_state=f"{p}.Missing",
                               concurrency=0),
        f"{p}.Missing": pass_state({
            "g.$": f"States.ArrayContains({_s(p, 'hasg[*].ok')}, false)",
            "l.$": f"States.ArrayContains({_s(p, 'hasl[*].ok')}, false)"},
            _s(p, "missing"), f"{p}.ExactI"),
        f"{p}.ExactI": choice([{"And": [
            {"Variable": f"{isig}.managed", "BooleanEquals": True},
            {"Variable": f"{isig}.in_n", "NumericEquals": 0},
            {"Variable": f"{isig}c.groups", "NumericEqualsPath": _s(p, "wantn.groups")},
            {"Variable": f"{isig}c.lists", "NumericEqualsPath": _s(p, "wantn.lists")},
            {"Variable": f"{isig}.out_cidr", "StringEquals": "[]"},
            {"Variable": f"{isig}.out_cidr6", "StringEquals": "[]"},
            {"Variable": _s(p, "missing.g"), "BooleanEquals": False},
            {"Variable": _s(p, "missing.l"), "BooleanEquals": False},
            {"Or": [{"Variable": f"{isig}.out_n", "NumericEquals": 0},
                    {"And": [{"Variable": f"{isig}.out_proto", "StringEquals": '["tcp"]'},
                             {"Variable": f"{isig}.out_from", "StringEquals": "[443]"},
                             {"Variable": f"{isig}.out_to", "StringEquals": "[443]"}]}]}],
            "Next": f"{p}.KeepI"}], f"{p}.Drifted"),
        f"{p}.KeepI": pass_state({"id.$": _s(p, "i.g.GroupId")}, _s(p, "iid"), f"{p}.Placed"),
        # Every ENI already on the isolation group alone: nothing to do.
        f"{p}.Placed": pass_state({"u.$": "States.ArrayUnique("
                                   "$.instance.NetworkInterfaces[*].Groups[*].GroupId)"},
                                  _s(p, "now"), f"{p}.PlacedN"),
        f"{p}.PlacedN": pass_state({"n.$": f"States.ArrayLength({_s(p, 'now.u')})",
                                    "iso.$": f"States.ArrayContains({_s(p, 'now.u')}, "
                                             f"{_s(p, 'iid.id')})"}, _s(p, "nowc"),
                                   f"{p}.Done"),
        f"{p}.Done": choice([{"And": [{"Variable": _s(p, "nowc.n"), "NumericEquals": 1},
                                      {"Variable": _s(p, "nowc.iso"), "BooleanEquals": True}],
                              "Next": NEXT}], f"{p}.Change"),
        f"{p}.Change": {"Type": "Pass", "Next": RECORD},
        f"{p}.LookAlike": fail_with(
            "ircli.LookAlikeGroup", "A security group with ircli's name exists in the VPC but "
            "was not created by ircli (no ircli:managed tag): not trusted, nothing moved. Find "
            "out who created it (CloudTrail), then run `ircli contain`, which uses the next "
            "free name."),
        f"{p}.Drifted": fail_with(
            "ircli.GroupDrifted", "An ircli security group does not hold exactly ircli's rules "
            "(someone changed it): nothing moved. Run `ircli contain`, which repairs it."),
        # Changes, after the record: create what is missing, then move the ENIs.
        f"{p}.MakeT": choice([{"Variable": _s(p, "tid"), "IsPresent": True,
                               "Next": f"{p}.MakeI"}], f"{p}.CreateT"),
        f"{p}.CreateT": task("ec2", "createSecurityGroup", {
            "VpcId.$": vpc, "GroupName": TRANSITION_GROUP,
            "Description": "ircli transition: allow all, so existing flows become untracked",
            "TagSpecifications": tagged(TRANSITION_GROUP)},
            result_selector={"id.$": "$.GroupId"}, result_path=_s(p, "tid"),
            next_state=f"{p}.OpenT"),
        f"{p}.OpenT": task("ec2", "authorizeSecurityGroupIngress", {
            "GroupId.$": _s(p, "tid.id"), "IpPermissions": all_traffic},
            next_state=f"{p}.OpenT6"),
        f"{p}.OpenT6": task("ec2", "authorizeSecurityGroupEgress", {
            "GroupId.$": _s(p, "tid.id"), "IpPermissions": [
                {"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]},
            next_state=f"{p}.MakeI"),
        f"{p}.MakeI": choice([{"Variable": _s(p, "iid"), "IsPresent": True,
                               "Next": f"{p}.Moves"}], f"{p}.CreateI"),
        f"{p}.CreateI": task("ec2", "createSecurityGroup", {
            "VpcId.$": vpc, "GroupName": iso_name,
            "Description": "ircli isolation: no traffic but what ircli allows",
            "TagSpecifications": tagged(iso_name)},
            result_selector={"id.$": "$.GroupId"}, result_path=_s(p, "iid"),
            next_state=f"{p}.CloseI"),
        f"{p}.CloseI": task("ec2", "revokeSecurityGroupEgress", {
            "GroupId.$": _s(p, "iid.id"), "IpPermissions": [
                {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]},
            next_state=f"{p}.CloseI6"),
        # The IPv6 default exists only in VPCs with IPv6: its absence is the state we want.
        f"{p}.CloseI6": task("ec2", "revokeSecurityGroupEgress", {
            "GroupId.$": _s(p, "iid.id"), "IpPermissions": [
                {"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]},
            next_state=f"{p}.AllowI", catch=f"{p}.AllowI", retry=False),
        f"{p}.AllowI": choice([{"Variable": _s(p, "wantn.all"), "NumericGreaterThan": 0,
                                "Next": f"{p}.Pairs"}], f"{p}.Visible"),
        f"{p}.Pairs": map_state(_s(p, "want.groups"), {"g.$": "$$.Map.Item.Value"},
                                {f"{p}.P.One": end_pass({"GroupId.$": "$.g",
                                                         "Description": "ircli: VPC endpoint"})},
                                f"{p}.P.One", result_path=_s(p, "pairs"),
                                next_state=f"{p}.Lists", concurrency=0),
        f"{p}.Lists": map_state(_s(p, "want.lists"), {"l.$": "$$.Map.Item.Value"},
                                {f"{p}.Q.One": end_pass({"PrefixListId.$": "$.l",
                                                         "Description": "ircli: S3 gateway"})},
                                f"{p}.Q.One", result_path=_s(p, "lists"),
                                next_state=f"{p}.Egress", concurrency=0),
        f"{p}.Egress": task("ec2", "authorizeSecurityGroupEgress", {
            "GroupId.$": _s(p, "iid.id"), "IpPermissions": [{
                "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                "UserIdGroupPairs.$": _s(p, "pairs"), "PrefixListIds.$": _s(p, "lists")}]},
            next_state=f"{p}.Visible"),
        # A new group is not visible everywhere at once: the Retry waits for it.
        f"{p}.Visible": task("ec2", "describeSecurityGroups", {
            "GroupIds.$": f"States.Array({_s(p, 'tid.id')}, {_s(p, 'iid.id')})"},
            next_state=f"{p}.Moves"),
        f"{p}.Moves": map_state("$.instance.NetworkInterfaces", {
            "eni.$": "$$.Map.Item.Value.NetworkInterfaceId",
            "groups.$": "$$.Map.Item.Value.Groups[*].GroupId",
            "t.$": _s(p, "tid.id"), "i.$": _s(p, "iid.id")}, {
            f"{p}.M.Check": pass_state({"n.$": "States.ArrayLength($.groups)",
                                        "iso.$": "States.ArrayContains($.groups, $.i)",
                                        "trans.$": "States.ArrayContains($.groups, $.t)"},
                                       "$.now", f"{p}.M.Where"),
            f"{p}.M.Where": choice([
                {"And": [{"Variable": "$.now.n", "NumericEquals": 1},
                         {"Variable": "$.now.iso", "BooleanEquals": True}],
                 "Next": f"{p}.M.Done"},
                {"And": [{"Variable": "$.now.n", "NumericEquals": 1},
                         {"Variable": "$.now.trans", "BooleanEquals": True}],
                 "Next": f"{p}.M.ToIso"}], f"{p}.M.ToTrans"),
            f"{p}.M.ToTrans": task("ec2", "modifyNetworkInterfaceAttribute", {
                "NetworkInterfaceId.$": "$.eni", "Groups.$": "States.Array($.t)"},
                next_state=f"{p}.M.ToIso", catch=f"{p}.M.Stuck",
                comment="allow-all both ways: the ENI's flows become untracked"),
            f"{p}.M.ToIso": task("ec2", "modifyNetworkInterfaceAttribute", {
                "NetworkInterfaceId.$": "$.eni", "Groups.$": "States.Array($.i)"},
                next_state=f"{p}.M.Done", catch=f"{p}.M.Back"),
            f"{p}.M.Back": task("ec2", "modifyNetworkInterfaceAttribute", {
                "NetworkInterfaceId.$": "$.eni", "Groups.$": "$.groups"},
                next_state=f"{p}.M.RolledBack", catch=f"{p}.M.Danger",
                comment="never left in the allow-all group: back to its recorded groups"),
            f"{p}.M.Stuck": {"Type": "Fail", "Error": "ircli.NotIsolated",
                             "Cause": "An ENI could not be moved to the transition group; it "
                                      "is still on its original groups, not isolated."},
            f"{p}.M.RolledBack": {"Type": "Fail", "Error": "ircli.NotIsolated",
                                  "Cause": "An ENI could not be moved to the isolation group; "
                                           "it was put back on its recorded groups."},
            f"{p}.M.Danger": {"Type": "Fail", "Error": "ircli.LeftInTransition",
                              "Cause": "DANGER: an ENI is still in the allow-all transition "
                                       "group; move it to a deny-all group now."},
            f"{p}.M.Done": end_pass({"eni.$": "$.eni"}),
        }, f"{p}.M.Check", result_path=None, next_state=NEXT),
    }
    unused = ("NoEndpoints",) if ssm_egress == "endpoints" else (
        "Endpoints", "EndpointKinds", "Gateways", "AnyGateway", "NoGateway", "PrefixLists",
        "Want")
    for name in unused:
        del states[f"{p}.{name}"]
    return Fragment(states, start=f"{p}.Before", permissions=permissions,
                    record_at=f"{p}.MakeT", before=_s(p, "before"))


# -- Elastic IPs ---------------------------------------------------------------------------
def disassociate_eips(p: str, permissions: tuple[Any, ...]) -> Fragment:
    states = {
        f"{p}.Find": task("ec2", "describeAddresses", {"Filters": [
            {"Name": "network-interface-id",
             "Values.$": "$.instance.NetworkInterfaces[*].NetworkInterfaceId"}]},
            result_selector={"a.$": "$.Addresses", "n.$": "States.ArrayLength($.Addresses)"},
            result_path=_s(p, "found"), next_state=f"{p}.Any"),
        f"{p}.Any": choice([{"Variable": _s(p, "found.n"), "NumericEquals": 0, "Next": NEXT}],
                           f"{p}.Before"),
        f"{p}.Before": map_state(_s(p, "found.a"), {"a.$": "$$.Map.Item.Value"}, {
            f"{p}.B.One": end_pass({k + ".$": f"$.a.{k}" for k in (
                "AllocationId", "PublicIp", "NetworkInterfaceId", "PrivateIpAddress")})},
            f"{p}.B.One", result_path=_s(p, "before.addresses"), next_state=RECORD),
        f"{p}.Disassociate": map_state(_s(p, "found.a"), {"id.$": "$$.Map.Item.Value."
                                                                 "AssociationId"}, {
            f"{p}.D.One": {**task("ec2", "disassociateAddress", {"AssociationId.$": "$.id"},
                                  catch=None), "End": True}},
            f"{p}.D.One", result_path=None, next_state=NEXT),
    }
    states[f"{p}.Disassociate"]["ItemProcessor"]["States"][f"{p}.D.One"].pop("Next")
    return Fragment(states, start=f"{p}.Find", permissions=permissions,
                    record_at=f"{p}.Disassociate", before=_s(p, "before"))


# -- Protection -----------------------------------------------------------------------------
def protect(p: str, permissions: tuple[Any, ...]) -> Fragment:
    iid = {"InstanceId.$": IID}

    def attribute(name: str, key: str, next_state: str) -> dict[str, Any]:
        return task("ec2", "describeInstanceAttribute", {**iid, "Attribute": name},
                    result_selector={"v.$": f"$.{key}.Value"}, result_path=_s(p, name),
                    next_state=next_state)

    dev, flag = f"{EBS}[*].DeviceName", f"{EBS}[*].DeleteOnTermination"
    loop = _s(p, "dot")
    states = {
        f"{p}.Term": attribute("disableApiTermination", "DisableApiTermination",
                               f"{p}.Shut"),
        f"{p}.Shut": attribute("instanceInitiatedShutdownBehavior",
                               "InstanceInitiatedShutdownBehavior", f"{p}.Devices"),
        f"{p}.Devices": pass_state({"dev.$": dev, "flag.$": flag,
                                    "keep.$": f"States.ArrayContains({flag}, true)",
                                    "n.$": f"States.ArrayLength({dev})"}, _s(p, "devs"),
                                   f"{p}.DotStart"),
        # {"/dev/xvda": true, ...}: keys that vary are built as text, one device at a time.
        f"{p}.DotStart": pass_state({"acc.$": "$.c.lb", "sep": "", "i": 0}, loop,
                                    f"{p}.DotMore"),
        f"{p}.DotMore": choice([{"Variable": f"{loop}.i", "NumericLessThanPath": _s(p, "devs.n"),
                                 "Next": f"{p}.DotOne"}], f"{p}.Before"),
        f"{p}.DotOne": pass_state({
            "acc.$": f"States.Format('{{}}{{}}\"{{}}\":{{}}', {loop}.acc, {loop}.sep, "
                     f"States.ArrayGetItem({_s(p, 'devs.dev')}, {loop}.i), States.JsonToString("
                     f"States.ArrayGetItem({_s(p, 'devs.flag')}, {loop}.i)))",
            "sep": ",", "i.$": f"States.MathAdd({loop}.i, 1)"}, loop, f"{p}.DotMore"),
        f"{p}.Before": pass_state({
            "disable_api_termination.$": _s(p, "disableApiTermination.v"),
            "shutdown_behavior.$": _s(p, "instanceInitiatedShutdownBehavior.v"),
            "delete_on_termination.$": f"States.StringToJson(States.Format('{{}}{{}}', "
                                       f"{loop}.acc, $.c.rb))"}, _s(p, "before"), f"{p}.Need"),
        f"{p}.Need": choice([
            {"Variable": _s(p, "disableApiTermination.v"), "BooleanEquals": False,
             "Next": RECORD},
            {"Not": {"Variable": _s(p, "instanceInitiatedShutdownBehavior.v"),
                     "StringEquals": "stop"}, "Next": RECORD},
            {"Variable": _s(p, "devs.keep"), "BooleanEquals": True, "Next": RECORD}], NEXT),
        f"{p}.SetTerm": choice([
            {"And": [{"Variable": "$.instance.InstanceLifecycle", "IsPresent": True},
                     {"Variable": "$.instance.InstanceLifecycle", "StringEquals": "spot"}],
             "Next": f"{p}.SetShut"},
            {"Variable": _s(p, "disableApiTermination.v"), "BooleanEquals": False,
             "Next": f"{p}.Protect"}], f"{p}.SetShut"),
        f"{p}.Protect": task("ec2", "modifyInstanceAttribute", {
            **iid, "DisableApiTermination": {"Value": True}}, next_state=f"{p}.SetShut"),
        f"{p}.SetShut": choice([{"Not": {"Variable": _s(p, "instanceInitiatedShutdownBehavior.v"),
                                         "StringEquals": "stop"}, "Next": f"{p}.Stop"}],
                               f"{p}.SetKeep"),
        # The Attribute/Value form, as the CLI step uses (AWS accepts both).
        f"{p}.Stop": task("ec2", "modifyInstanceAttribute", {
            **iid, "Attribute": "instanceInitiatedShutdownBehavior", "Value": "stop"},
            next_state=f"{p}.SetKeep"),
        f"{p}.SetKeep": choice([{"Variable": _s(p, "devs.keep"), "BooleanEquals": True,
                                 "Next": f"{p}.Mappings"}], NEXT),
        f"{p}.Mappings": map_state(_s(p, "devs.dev"), {"d.$": "$$.Map.Item.Value"}, {
            f"{p}.K.One": end_pass({"DeviceName.$": "$.d", "Ebs": {
                "DeleteOnTermination": False}})}, f"{p}.K.One", result_path=_s(p, "bdm"),
            next_state=f"{p}.Keep", concurrency=0),
        f"{p}.Keep": task("ec2", "modifyInstanceAttribute", {
            **iid, "BlockDeviceMappings.$": _s(p, "bdm")}, next_state=NEXT),
    }
    return Fragment(states, start=f"{p}.Term", permissions=permissions,
                    record_at=f"{p}.SetTerm", before=_s(p, "before"))


# -- Paths the security groups cannot cut -----------------------------------------------------
def tracked_paths(p: str, permissions: tuple[Any, ...]) -> Fragment:
    """The CLI denies the instance's addresses on its NAT gateways' subnets; the compiled
    step finds NAT gateways in the VPC and, where there is one, fails (non-critical, recorded)
    so the case says isolation is incomplete and a responder runs `ircli contain`."""
    states = {
        f"{p}.Nat": task("ec2", "describeNatGateways", {"Filter": [
            {"Name": "vpc-id", "Values.$": "States.Array($.instance.VpcId)"},
            {"Name": "state", "Values": ["available", "pending"]}]},
            result_selector={"n.$": "States.ArrayLength($.NatGateways)"},
            result_path=_s(p, "nat"), next_state=f"{p}.Any"),
        f"{p}.Any": choice([{"Variable": _s(p, "nat.n"), "NumericEquals": 0, "Next": NEXT}],
                           f"{p}.Open"),
        f"{p}.Open": fail_with("ircli.TrackedPathOpen",
                               "ISOLATION INCOMPLETE: the VPC has a NAT gateway, whose "
                               "connections stay tracked; the automation does not cut them. "
                               "Run `ircli contain` on the instance to deny its addresses on "
                               "the NAT gateway's subnet."),
    }
    return Fragment(states, start=f"{p}.Nat", permissions=permissions)


# -- Tags and snapshots ---------------------------------------------------------------------
def tag(p: str, permissions: tuple[Any, ...]) -> Fragment:
    t = _s(p, "t")
    states = {
        f"{p}.Want": pass_state({
            "case": {"Key": TAG_CASE, "Value.$": CASE},
            "status": {"Key": TAG_STATUS, "Value": "contained"},
            "at": {"Key": TAG_CONTAINED_AT, "Value.$": "$$.State.EnteredTime"},
            "by": {"Key": TAG_CONTAINED_BY, "Value.$": "$$.Execution.RoleArn"}}, t, f"{p}.Tagged"),
        f"{p}.Tagged": choice([{"Variable": "$.instance.Tags", "IsPresent": True,
                                "Next": f"{p}.Check"}], RECORD),
        f"{p}.Check": pass_state({
            "case.$": f"States.ArrayContains($.instance.Tags, {t}.case)",
            "status.$": f"States.ArrayContains($.instance.Tags, {t}.status)"},
            _s(p, "has"), f"{p}.Already"),
        f"{p}.Already": choice([{"And": [
            {"Variable": _s(p, "has.case"), "BooleanEquals": True},
            {"Variable": _s(p, "has.status"), "BooleanEquals": True}], "Next": NEXT}], RECORD),
        f"{p}.Instance": task("ec2", "createTags", {
            "Resources.$": f"States.Array({IID})",
            "Tags.$": f"States.Array({t}.case, {t}.status, {t}.at, {t}.by)"},
            next_state=f"{p}.Volumes"),
        f"{p}.Volumes": map_state(EBS, {"v.$": "$$.Map.Item.Value", "t.$": t}, {
            f"{p}.V.Dev": pass_state({"Key": TAG_DEVICE, "Value.$": "$.v.DeviceName"}, "$.dev",
                                     f"{p}.V.One"),
            f"{p}.V.One": {**task("ec2", "createTags", {
                "Resources.$": "States.Array($.v.VolumeId)",
                "Tags.$": "States.Array($.t.case, $.t.status, $.t.at, $.t.by, $.dev)"},
                catch=None), "End": True}}, f"{p}.V.Dev", result_path=None, next_state=NEXT),
    }
    states[f"{p}.Volumes"]["ItemProcessor"]["States"][f"{p}.V.One"].pop("Next")
    return Fragment(states, start=f"{p}.Want", permissions=permissions,
                    record_at=f"{p}.Instance")


def snapshot(p: str, permissions: tuple[Any, ...]) -> Fragment:
    """CreateSnapshots of every volume, tagged at creation; a case that has its snapshots of
    this instance already (found by tags) takes none again."""
    states = {
        f"{p}.Find": task("ec2", "describeSnapshots", {"OwnerIds": ["self"], "Filters": [
            {"Name": f"tag:{TAG_CASE}", "Values.$": f"States.Array({CASE})"},
            {"Name": f"tag:{TAG_INSTANCE}", "Values.$": f"States.Array({IID})"}]},
            result_selector={"n.$": "States.ArrayLength($.Snapshots)"},
            result_path=_s(p, "found"), next_state=f"{p}.Any"),
        f"{p}.Any": choice([{"Variable": _s(p, "found.n"), "NumericGreaterThan": 0,
                             "Next": NEXT}], RECORD),
        f"{p}.Create": task("ec2", "createSnapshots", {
            "InstanceSpecification": {"InstanceId.$": IID, "ExcludeBootVolume": False},
            "Description.$": f"States.Format('ircli case {{}}: {{}}', {CASE}, {IID})",
            "CopyTagsFromSource": "volume",
            "TagSpecifications": [{"ResourceType": "snapshot", "Tags": [
                {"Key": TAG_CASE, "Value.$": CASE}, {"Key": TAG_INSTANCE, "Value.$": IID},
                {"Key": "Name", "Value.$": f"States.Format('ircli {{}} {{}}', {CASE}, {IID})"}]}]},
            result_selector={"s.$": "$.Snapshots"}, result_path=_s(p, "made"),
            next_state=f"{p}.Devices"),
        # The device tag, where CopyTagsFromSource did not bring it (as the CLI step does).
        f"{p}.Devices": map_state(_s(p, "made.s"), {"s.$": "$$.Map.Item.Value",
                                                    "bdm.$": EBS}, {
            f"{p}.D.Each": map_state("$.bdm", {"b.$": "$$.Map.Item.Value", "s.$": "$.s"}, {
                f"{p}.D.Mine": choice([{"Variable": "$.b.VolumeId",
                                        "StringEqualsPath": "$.s.VolumeId",
                                        "Next": f"{p}.D.Tag"}], f"{p}.D.Skip"),
                f"{p}.D.Tag": {**task("ec2", "createTags", {
                    "Resources.$": "States.Array($.s.SnapshotId)",
                    "Tags": [{"Key": TAG_DEVICE, "Value.$": "$.b.DeviceName"}]}, catch=None),
                    "End": True},
                f"{p}.D.Skip": end_pass()}, f"{p}.D.Mine", result_path=None, next_state="",
                catch=None, concurrency=0)}, f"{p}.D.Each", result_path=None, next_state=NEXT,
            concurrency=0),
    }
    each = states[f"{p}.Devices"]["ItemProcessor"]["States"][f"{p}.D.Each"]
    each.pop("Next")
    each["End"] = True
    each["ItemProcessor"]["States"][f"{p}.D.Tag"].pop("Next")
    return Fragment(states, start=f"{p}.Find", permissions=permissions,
                    record_at=f"{p}.Create")


__all__ = ["FAIL", "disassociate_eips", "first", "isolate", "leave_asg", "protect",
           "remove_from_service", "snapshot", "tag", "tracked_paths"]


# -- Credentials ----------------------------------------------------------------------------
def _deny_template(ids_path: str) -> dict[str, Any]:
    """The role's deny policy exactly as the CLI writes it, naming the instances at
    ``ids_path`` (built from the CLI's own builder, so the two never drift apart)."""
    from ircli.aws.iam_policies import contain_deny

    # A copy: the statements of contain_deny share their condition dicts.
    document: dict[str, Any] = json.loads(json.dumps(contain_deny(["i-0"])))
    for statement in document["Statement"]:
        like = statement["Condition"]["StringLike"]
        like.pop("ec2:SourceInstanceARN")
        like["ec2:SourceInstanceARN.$"] = ids_path
    return document


def _kept_ids(p: str, names: tuple[str, str], items: str, item: str, *, test: str,
              rule: dict[str, Any], keep: bool, key: str, value: str, nested: bool,
              results: str, flat: tuple[str, str], next_state: str) -> dict[str, dict[str, Any]]:
    """Two states that filter a list into ids: a Map over ``items`` (each at ``$.<item>``)
    whose iteration, ``test`` (``"<letter>.<name>"``), gives ``{key: value}`` where ``rule``
    holds (``keep``; where it does not, with ``keep=False``) and ``{key: []}`` otherwise,
    results at ``$.steps.p.<results>``; then a Pass, ``names[1]``, that puts every id in one
    list at ``{flat[0]: [...]}`` at ``$.steps.p.<flat[1]>`` (``nested``: ``value`` is a list
    already). Never fails by itself."""
    choose, yes, no = f"{p}.{test}", f"{p}.{test[0]}.Yes", f"{p}.{test[0]}.No"
    ids = _s(p, f"{results}[*].{key}[*]{'[*]' if nested else ''}")
    return {
        f"{p}.{names[0]}": map_state(items, {f"{item}.$": "$$.Map.Item.Value"}, {
            choose: choice([{**rule, "Next": yes if keep else no}], no if keep else yes),
            yes: end_pass({f"{key}.$": value}),
            no: end_pass({key: []})}, choose, result_path=_s(p, results),
            next_state=f"{p}.{names[1]}", concurrency=0),
        f"{p}.{names[1]}": pass_state({f"{flat[0]}.$": ids}, _s(p, flat[1]), next_state),
    }


def cut_credentials(p: str, partition: str, permissions: tuple[Any, ...]) -> Fragment:
    """Add the instance to its role's ircli deny policy (``ec2:SourceInstanceARN``), creating
    and attaching the policy where there is none; the other instances it names stay."""
    from ircli.aws.contain_deny import deny_policy_name
    from ircli.aws.iam_managed import IRCLI_PATH, MAX_VERSIONS, TAGS
    from ircli.aws.iam_policies import SID_CONTAIN, instance_pattern

    prefix = deny_policy_name("")
    me = _s(p, "me.pattern")
    states = {
        f"{p}.Has": choice([{"Variable": "$.instance.IamInstanceProfile", "IsPresent": True,
                             "Next": f"{p}.Split"}], NEXT),
        f"{p}.Split": pass_state({"parts.$": "States.StringSplit("
                                  "$.instance.IamInstanceProfile.Arn, '/')"},
                                 _s(p, "arn"), f"{p}.Name"),
        f"{p}.Name": pass_state({"name.$": f"States.ArrayGetItem({_s(p, 'arn.parts')}, "
                                 f"States.MathAdd(States.ArrayLength({_s(p, 'arn.parts')}), -1))",
                                 "pattern.$": f"States.Format('{instance_pattern('{}')}', {IID})"},
                                _s(p, "me"), f"{p}.Profile"),
        f"{p}.Profile": task("iam", "getInstanceProfile",
                             {"InstanceProfileName.$": _s(p, "me.name")},
                             result_selector={"roles.$": "$.InstanceProfile.Roles",
                                              "n.$": "States.ArrayLength("
                                                     "$.InstanceProfile.Roles)"},
                             result_path=_s(p, "profile"), next_state=f"{p}.AnyRole"),
        f"{p}.AnyRole": choice([{"Variable": _s(p, "profile.n"), "NumericEquals": 0,
                                 "Next": NEXT}], f"{p}.Role"),
        f"{p}.Role": pass_state({"r.$": f"States.ArrayGetItem({_s(p, 'profile.roles')}, 0)"},
                                _s(p, "role"), f"{p}.Policy"),
        f"{p}.Policy": pass_state({
            "role.$": _s(p, "role.r.RoleName"),
            "name.$": f"States.Format('{prefix}{{}}', {_s(p, 'role.r.RoleName')})",
            "arn.$": f"States.Format('arn:{partition}:iam::{{}}:policy{IRCLI_PATH}{prefix}{{}}', "
                     f"$.ircli.account, {_s(p, 'role.r.RoleName')})"}, _s(p, "pol"),
            f"{p}.Get"),
        f"{p}.Get": task("iam", "getPolicy", {"PolicyArn.$": _s(p, "pol.arn")},
                         result_selector={"v.$": "$.Policy.DefaultVersionId"},
                         result_path=_s(p, "got"), next_state=f"{p}.Version"),
        f"{p}.Version": task("iam", "getPolicyVersion", {
            "PolicyArn.$": _s(p, "pol.arn"), "VersionId.$": _s(p, "got.v")},
            result_selector={"d.$": "$.PolicyVersion.Document"}, result_path=_s(p, "ver"),
            next_state=f"{p}.Form"),
        # IAM documents the policy text as URL-encoded; only plain JSON can be read here.
        f"{p}.Form": choice([
            {"And": [{"Variable": _s(p, "ver.d"), "IsString": True},
                     {"Variable": _s(p, "ver.d"), "StringMatches": "%*"}],
             "Next": f"{p}.Encoded"},
            {"Variable": _s(p, "ver.d"), "IsString": True, "Next": f"{p}.Parse"}],
            f"{p}.Object"),
        f"{p}.Parse": pass_state({"d.$": f"States.StringToJson({_s(p, 'ver.d')})"},
                                 _s(p, "ver"), f"{p}.Object"),
        f"{p}.Encoded": fail_with(
            "ircli.DenyPolicyUnreadable", "The role's ircli deny policy came back URL-encoded, "
            "which Step Functions cannot decode: this instance was NOT added to it. Run "
            "`ircli contain` on the instance."),
        # ircli's statement has one StringLike key, ec2:SourceInstanceARN: its values (a list).
        **_kept_ids(p, ("Object", "Listed0"), _s(p, "ver.d.Statement"), "st", test="S.Ours",
                    rule={"And": [{"Variable": "$.st.Sid", "IsPresent": True},
                                  {"Variable": "$.st.Sid", "StringEquals": SID_CONTAIN}]},
                    keep=True, key="ids", value="$.st.Condition.StringLike.*", nested=True,
                    results="stmts", flat=("ids", "old"), next_state=f"{p}.Attached"),
        f"{p}.Attached": task("iam", "listAttachedRolePolicies", {
            "RoleName.$": _s(p, "pol.role"), "PathPrefix": IRCLI_PATH},
            result_selector={"arns.$": "$.AttachedPolicies[*].PolicyArn"},
            result_path=_s(p, "att"), next_state=f"{p}.Listed"),
        f"{p}.Listed": pass_state({
            "listed.$": f"States.ArrayContains({_s(p, 'old.ids')}, {me})",
            "attached.$": f"States.ArrayContains({_s(p, 'att.arns')}, {_s(p, 'pol.arn')})",
            "exists": True}, _s(p, "is"), f"{p}.Done"),
        f"{p}.Done": choice([{"And": [{"Variable": _s(p, "is.listed"), "BooleanEquals": True},
                                      {"Variable": _s(p, "is.attached"), "BooleanEquals": True}],
                              "Next": NEXT}], f"{p}.Merge"),
        f"{p}.Merge": pass_state({"all": {"old.$": _s(p, "old.ids"),
                                          "me.$": f"States.Array({me})"}}, _s(p, "new"),
                                 f"{p}.Ids"),
        f"{p}.Ids": pass_state({"ids.$": _s(p, "new.all.*[*]")}, _s(p, "flat"),
                               f"{p}.Unique"),
        f"{p}.Unique": pass_state({"ids.$": f"States.ArrayUnique({_s(p, 'flat.ids')})"},
                                  _s(p, "new"), f"{p}.Document"),
        f"{p}.Absent": pass_state({"listed": False, "attached": False, "exists": False},
                                  _s(p, "is"), f"{p}.Fresh"),
        f"{p}.Fresh": pass_state({"ids.$": f"States.Array({me})"}, _s(p, "new"),
                                 f"{p}.Document"),
        f"{p}.Document": pass_state(_deny_template(_s(p, "new.ids")), _s(p, "doc"),
                                    f"{p}.Before"),
        f"{p}.Before": pass_state({
            "profile_arn.$": "$.instance.IamInstanceProfile.Arn", "role.$": _s(p, "pol.role"),
            "policy_arn.$": _s(p, "pol.arn"), "instance_listed.$": _s(p, "is.listed"),
            "association_id": None}, _s(p, "before"), RECORD),
        f"{p}.Write": choice([{"Variable": _s(p, "is.exists"), "BooleanEquals": True,
                               "Next": f"{p}.Versions"}], f"{p}.Create"),
        f"{p}.Create": task("iam", "createPolicy", {
            "PolicyName.$": _s(p, "pol.name"), "Path": IRCLI_PATH,
            "PolicyDocument.$": f"States.JsonToString({_s(p, 'doc')})",
            "Description.$": f"States.Format('ircli: deny the credentials of contained "
                             f"instances of {{}}', {_s(p, 'pol.role')})", "Tags": TAGS},
            next_state=f"{p}.Attach"),
        # IAM keeps five versions: the oldest non-default one makes room for ours.
        f"{p}.Versions": task("iam", "listPolicyVersions", {"PolicyArn.$": _s(p, "pol.arn")},
                              result_selector={"n.$": "States.ArrayLength($.Versions)",
                                               "all.$": "$.Versions"},
                              result_path=_s(p, "vers"), next_state=f"{p}.Old"),
        **_kept_ids(p, ("Old", "OldIds"), _s(p, "vers.all"), "v", test="O.Default",
                    rule={"Variable": "$.v.IsDefaultVersion", "BooleanEquals": True},
                    keep=False, key="id", value="States.Array($.v.VersionId)", nested=False,
                    results="olds", flat=("old", "oldv"), next_state=f"{p}.Full"),
        f"{p}.Full": choice([{"Variable": _s(p, "vers.n"),
                              "NumericGreaterThanEquals": MAX_VERSIONS,
                              "Next": f"{p}.Prune"}], f"{p}.NewVersion"),
        f"{p}.Prune": task("iam", "deletePolicyVersion", {
            "PolicyArn.$": _s(p, "pol.arn"),
            "VersionId.$": f"States.ArrayGetItem({_s(p, 'oldv.old')}, "
                           f"States.MathAdd(States.ArrayLength({_s(p, 'oldv.old')}), -1))"},
            next_state=f"{p}.NewVersion"),
        f"{p}.NewVersion": task("iam", "createPolicyVersion", {
            "PolicyArn.$": _s(p, "pol.arn"),
            "PolicyDocument.$": f"States.JsonToString({_s(p, 'doc')})", "SetAsDefault": True},
            next_state=f"{p}.MustAttach"),
        f"{p}.MustAttach": choice([{"Variable": _s(p, "is.attached"), "BooleanEquals": True,
                                    "Next": NEXT}], f"{p}.Attach"),
        f"{p}.Attach": task("iam", "attachRolePolicy", {
            "RoleName.$": _s(p, "pol.role"), "PolicyArn.$": _s(p, "pol.arn")}, next_state=NEXT),
    }
    states[f"{p}.Get"]["Catch"].insert(0, {"ErrorEquals": ["Iam.NoSuchEntityException"],
                                           "ResultPath": None, "Next": f"{p}.Absent"})
    return Fragment(states, start=f"{p}.Has", permissions=permissions,
                    record_at=f"{p}.Write", before=_s(p, "before"))
