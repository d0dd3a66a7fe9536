"""The Step Functions form of the network isolation steps: isolate (the transition and
isolation security groups, every ENI moved), disassociate-eips, and cut-tracked-paths (what
the groups cannot cut). See :mod:`ircli.steps.asl_paths` for what every compiled step shares.
"""

from __future__ import annotations

from typing import Any

from ircli.core.asl import choice, end_pass, fail_with, map_state, pass_state, task
from ircli.core.step import NEXT, RECORD, Fragment
from ircli.steps.asl_paths import step_path as _s
from ircli.steps.names import TAG_MANAGED, TRANSITION_GROUP


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

    def reuse(kind: str, key: str, at: str, sig: str, none: str) -> dict[str, dict[str, Any]]:
        """Have<kind>: none found at ``key`` (``none`` next); else the first, at ``at``: no
        tags at all is a look-alike; its rules' signature at ``sig`` (Count<kind> next)."""
        return {
            f"{p}.Have{kind}": choice([{"Variable": _s(p, f"{key}.n"), "NumericEquals": 0,
                                        "Next": none}], f"{p}.Pick{kind}"),
            f"{p}.Pick{kind}": pass_state({"g.$": f"States.ArrayGetItem({_s(p, key + '.g')}, 0)"},
                                          _s(p, at), f"{p}.Tagged{kind}"),
            f"{p}.Tagged{kind}": choice([{"Variable": _s(p, f"{at}.g.Tags"), "IsPresent": True,
                                          "Next": f"{p}.Sig{kind}"}], f"{p}.LookAlike"),
            f"{p}.Sig{kind}": pass_state(_rule_signature(_s(p, f"{at}.g")), sig,
                                         f"{p}.Count{kind}"),
        }

    def make(kind: str, key: str, name: str, description: str, found: str,
             made: str) -> dict[str, dict[str, Any]]:
        """Make<kind>: the group found is at ``key`` (``found`` next); else Create<kind>, tagged
        as ircli's, its id at ``key`` (``made`` next: its rules)."""
        return {
            f"{p}.Make{kind}": choice([{"Variable": _s(p, key), "IsPresent": True,
                                        "Next": found}], f"{p}.Create{kind}"),
            f"{p}.Create{kind}": task("ec2", "createSecurityGroup", {
                "VpcId.$": vpc, "GroupName": name, "Description": description,
                "TagSpecifications": [{"ResourceType": "security-group", "Tags": [
                    {"Key": TAG_MANAGED, "Value": "true"}, {"Key": "Name", "Value": name}]}]},
                result_selector={"id.$": "$.GroupId"}, result_path=_s(p, key), next_state=made),
        }

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
        **reuse("T", "ft", "t", tsig, f"{p}.HaveI"),
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
        **reuse("I", "fi", "i", isig, f"{p}.Change"),
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
        **make("T", "tid", TRANSITION_GROUP,
               "ircli transition: allow all, so existing flows become untracked",
               f"{p}.MakeI", f"{p}.OpenT"),
        f"{p}.OpenT": task("ec2", "authorizeSecurityGroupIngress", {
            "GroupId.$": _s(p, "tid.id"), "IpPermissions": all_traffic},
            next_state=f"{p}.OpenT6"),
        f"{p}.OpenT6": task("ec2", "authorizeSecurityGroupEgress", {
            "GroupId.$": _s(p, "tid.id"), "IpPermissions": [
                {"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]},
            next_state=f"{p}.MakeI"),
        **make("I", "iid", iso_name, "ircli isolation: no traffic but what ircli allows",
               f"{p}.Moves", f"{p}.CloseI"),
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
