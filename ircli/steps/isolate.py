"""Network isolation: every ENI to an allow-all group, then to the isolation group.

The two-step matters: changing groups does not cut connections that are already tracked
(idle TCP stays tracked for five days), but flows allowed by an all-traffic 0.0.0.0/0 rule both
ways are untracked, and untracked flows stop the moment the isolation group replaces it.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from ircli.aws.ec2 import enis
from ircli.core.awserrors import error_code
from ircli.core.engine import RunContext
from ircli.steps.base import Call, Ref, Step, StepPlan, register, resolve_refs
from ircli.steps.names import (
    TAG_MANAGED,
    TRANSITION_GROUP,
    SsmEgress,
    isolation_group_name,
)

_SSM_SERVICES = ("ssm", "ssmmessages", "ec2messages")
# Another responder may be setting up the same group at this moment (a fleet contained at once):
# a rule that is already there, or already gone, is the state we want.
_SAME_RULE = ("InvalidPermission.Duplicate", "InvalidPermission.NotFound")
_ALL_TRAFFIC = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                 "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]


@register
class Isolate(Step):
    """Move every ENI behind the isolation group: the first change containment makes."""

    name = "isolate"
    runbook_targets = ("instance",)
    title = "Isolate the network"
    critical = True
    milestone = "isolated"
    permissions = (
        "ec2:DescribeSecurityGroups", "ec2:CreateSecurityGroup", "ec2:CreateTags",
        "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupEgress", "ec2:DescribeVpcEndpoints",
        "ec2:DescribeManagedPrefixLists", "ec2:ModifyNetworkInterfaceAttribute",
    )
    undo_permissions = ("ec2:ModifyNetworkInterfaceAttribute",)

    def __init__(self, ssm_egress: SsmEgress = "endpoints", analyst_sg: str | None = None
                 ) -> None:
        self.ssm_egress = ssm_egress
        self.analyst_sg = analyst_sg

    def plan(self, ctx: RunContext) -> StepPlan:
        instance = ctx.facts["instance"]
        interfaces = enis(instance)
        vpcs = sorted({eni["VpcId"] for eni in interfaces})
        iso_name = isolation_group_name(self.ssm_egress, self.analyst_sg)
        plan = StepPlan(before={"network_interfaces": [
            {"id": eni["NetworkInterfaceId"], "groups": [g["GroupId"] for g in eni["Groups"]],
             "group_names": [g.get("GroupName") for g in eni["Groups"]]}
            for eni in interfaces]})
        existing = self._find_groups(ctx, vpcs, [TRANSITION_GROUP, iso_name])
        for vpc in vpcs:
            self._plan_groups(ctx, plan, vpc, existing, iso_name)
        trans = {vpc: _group_ref(existing, vpc, TRANSITION_GROUP) for vpc in vpcs}
        iso = {vpc: _group_ref(existing, vpc, iso_name) for vpc in vpcs}
        pending = [eni for eni in interfaces
                   if [g["GroupId"] for g in eni["Groups"]] != [iso[eni["VpcId"]]]]
        for eni in pending:
            if [g["GroupId"] for g in eni["Groups"]] != [trans[eni["VpcId"]]]:
                plan.calls.append(_set_groups(eni["NetworkInterfaceId"], trans[eni["VpcId"]],
                                              "allow-all transition group (untracks flows)"))
        for eni in pending:
            plan.calls.append(_set_groups(eni["NetworkInterfaceId"], iso[eni["VpcId"]],
                                          f"isolation group {iso_name}"))
        if not pending:
            plan.notes.append(f"all {len(interfaces)} ENI(s) already hold only {iso_name}")
        plan.pending["isolation_groups"] = iso
        plan.data["isolation_groups"] = {vpc: _known(iso[vpc]) for vpc in vpcs}
        ctx.facts["isolation_groups"] = plan.data["isolation_groups"]
        return plan

    # -- groups --------------------------------------------------------------------------
    @staticmethod
    def _find_groups(ctx: RunContext, vpcs: list[str], names: list[str]) -> dict[str, str]:
        """Existing ircli groups by (vpc, name), in one DescribeSecurityGroups call."""
        pages = ctx.aws.client("ec2").get_paginator("describe_security_groups").paginate(
            Filters=[{"Name": "vpc-id", "Values": vpcs}, {"Name": "group-name", "Values": names}])
        return {f"{g['VpcId']}/{g['GroupName']}": g["GroupId"]
                for page in pages for g in page["SecurityGroups"]}

    def _plan_groups(self, ctx: RunContext, plan: StepPlan, vpc: str,
                     existing: dict[str, str], iso_name: str) -> None:
        if f"{vpc}/{TRANSITION_GROUP}" not in existing:
            ref = Ref(f"{vpc}/{TRANSITION_GROUP}")
            plan.calls += [
                _create_group(vpc, TRANSITION_GROUP, ref,
                              "ircli transition: allow all, so existing flows become untracked"),
                Call("ec2", "authorize_security_group_ingress",
                     {"GroupId": ref, "IpPermissions": _ALL_TRAFFIC},
                     f"{TRANSITION_GROUP}: allow all inbound (IPv4 and IPv6)", tolerate=_SAME_RULE),
                Call("ec2", "authorize_security_group_egress",
                     {"GroupId": ref, "IpPermissions": [
                         {"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]},
                     f"{TRANSITION_GROUP}: allow all outbound IPv6 (IPv4 is the default rule)",
                     tolerate=_SAME_RULE),
            ]
        if f"{vpc}/{iso_name}" in existing:
            return
        ref = Ref(f"{vpc}/{iso_name}")
        plan.calls += [
            _create_group(vpc, iso_name, ref, "ircli isolation: no traffic but what ircli allows"),
            Call("ec2", "revoke_security_group_egress",
                 {"GroupId": ref, "IpPermissions": [
                     {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]},
                 f"{iso_name}: remove the default allow-all outbound rule", tolerate=_SAME_RULE),
        ]
        egress = self._egress_rules(ctx, plan, vpc)
        if egress:
            plan.calls.append(Call("ec2", "authorize_security_group_egress",
                                   {"GroupId": ref, "IpPermissions": egress},
                                   f"{iso_name}: allow tcp/443 out for live response "
                                   f"({self.ssm_egress})", tolerate=_SAME_RULE))
        if self.analyst_sg:
            plan.calls.append(Call("ec2", "authorize_security_group_ingress", {
                "GroupId": ref, "IpPermissions": [{"IpProtocol": "-1", "UserIdGroupPairs": [
                    {"GroupId": self.analyst_sg, "Description": "ircli analyst access"}]}]},
                f"{iso_name}: allow inbound from analyst group {self.analyst_sg} only",
                tolerate=_SAME_RULE))

    def _egress_rules(self, ctx: RunContext, plan: StepPlan, vpc: str) -> list[dict[str, Any]]:
        """Outbound rules of the isolation group for the chosen ``--ssm-egress`` mode."""
        if self.ssm_egress == "none":
            plan.warnings.append("--ssm-egress none: the isolated instance cannot reach SSM; "
                                 "live response (ircli collect) will not work.")
            return []
        if self.ssm_egress == "any":
            plan.warnings.append("RISK (--ssm-egress any): the isolation group allows tcp/443 to "
                                 "anywhere, so the instance can still reach the internet on 443.")
            return [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                     "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ircli live response"}],
                     "Ipv6Ranges": [{"CidrIpv6": "::/0", "Description": "ircli live response"}]}]
        groups, prefix_lists, services = _endpoint_targets(ctx, vpc)
        if not {"ssm", "ec2messages"} <= services:
            plan.warnings.append(
                f"VPC {vpc} has no SSM interface endpoints (ssm, ssmmessages, ec2messages), so "
                "the isolated instance cannot reach SSM and live response will not work. Create "
                "the endpoints, or re-run with --ssm-egress any to allow tcp/443 to anywhere "
                "(a logged risk).")
        if not groups and not prefix_lists:
            return []
        rule: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}
        if groups:
            rule["UserIdGroupPairs"] = [{"GroupId": g, "Description": "ircli: VPC endpoint"}
                                        for g in sorted(groups)]
        if prefix_lists:
            rule["PrefixListIds"] = [{"PrefixListId": p, "Description": "ircli: S3 gateway"}
                                     for p in sorted(prefix_lists)]
        return [rule]

    def apply(self, ctx: RunContext, plan: StepPlan) -> None:
        for call in plan.calls:
            try:
                ctx.execute(call)
            except botocore.exceptions.ClientError as err:
                # Another responder created the same group a moment ago: use theirs.
                if error_code(err) != "InvalidGroup.Duplicate" or call.method != \
                        "create_security_group":
                    raise
                vpc, name = call.params["VpcId"], call.params["GroupName"]
                found = self._find_groups(ctx, [vpc], [name])
                ctx.values[f"{vpc}/{name}"] = found[f"{vpc}/{name}"]
        plan.data["isolation_groups"] = resolve_refs(plan.pending["isolation_groups"],
                                                     ctx.values)
        ctx.facts["isolation_groups"] = plan.data["isolation_groups"]

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        before = record.get("before") or {}
        plan = StepPlan()
        for eni in before.get("network_interfaces", []):
            plan.calls.append(Call("ec2", "modify_network_interface_attribute",
                                   {"NetworkInterfaceId": eni["id"], "Groups": eni["groups"]},
                                   f"{eni['id']}: restore groups {_named(eni)}",
                                   dry_run=True))
        return plan


def _named(eni: dict[str, Any]) -> str:
    """``sg-0abc (web), sg-0def (ssh)``: the name beside each id, where the record has it."""
    names = list(eni.get("group_names") or [])
    names += [None] * (len(eni["groups"]) - len(names))
    return ", ".join(f"{g} ({n})" if n else g
                     for g, n in zip(eni["groups"], names[:len(eni["groups"])], strict=True))


def _endpoint_targets(ctx: RunContext, vpc: str) -> tuple[set[str], set[str], set[str]]:
    """Security groups of the SSM/S3 interface endpoints and the S3 gateway's prefix lists."""
    ec2 = ctx.aws.client("ec2")
    groups: set[str] = set()
    services: set[str] = set()
    gateway_names: list[str] = []
    pages = ec2.get_paginator("describe_vpc_endpoints").paginate(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    for endpoint in (e for page in pages for e in page["VpcEndpoints"]):
        if endpoint.get("State", "available").lower() not in ("available", "pending"):
            continue
        service = endpoint["ServiceName"].rsplit(".", 1)[-1]
        if endpoint.get("VpcEndpointType") == "Gateway":
            if service == "s3":
                gateway_names.append(endpoint["ServiceName"])
        elif service in (*_SSM_SERVICES, "s3"):
            services.add(service)
            groups.update(g["GroupId"] for g in endpoint.get("Groups", []))
    prefix_lists: set[str] = set()
    if gateway_names:
        pages = ec2.get_paginator("describe_managed_prefix_lists").paginate(
            Filters=[{"Name": "prefix-list-name", "Values": gateway_names}])
        prefix_lists = {p["PrefixListId"] for page in pages for p in page["PrefixLists"]}
    return groups, prefix_lists, services


def _create_group(vpc: str, name: str, ref: Ref, description: str) -> Call:
    return Call("ec2", "create_security_group", {
        "VpcId": vpc, "GroupName": name, "Description": description,
        "TagSpecifications": [{"ResourceType": "security-group", "Tags": [
            {"Key": TAG_MANAGED, "Value": "true"}, {"Key": "Name", "Value": name}]}]},
        f"create security group {name} in {vpc}", dry_run=True, produces=(ref.name, "GroupId"))


def _set_groups(eni_id: str, group: str | Ref, why: str) -> Call:
    return Call("ec2", "modify_network_interface_attribute",
                {"NetworkInterfaceId": eni_id, "Groups": [group]}, f"{eni_id}: {why}",
                dry_run=True)


def _group_ref(existing: dict[str, Any], vpc: str, name: str) -> Any:
    key = f"{vpc}/{name}"
    return existing.get(key, Ref(key))


def _known(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@register
class DisassociateElasticIps(Step):
    """Take Elastic IPs off the isolated ENIs (recorded, so release puts them back).

    A separate step after isolation: the isolation group already blocks the traffic, so the
    address lookup does not delay the moment the instance is cut off.
    """

    name = "disassociate-eips"
    runbook_targets = ("instance",)
    title = "Disassociate Elastic IPs"
    permissions = ("ec2:DescribeAddresses", "ec2:DisassociateAddress")
    undo_permissions = ("ec2:AssociateAddress",)

    def plan(self, ctx: RunContext) -> StepPlan:
        interfaces = enis(ctx.facts["instance"])
        eip_enis = [eni["NetworkInterfaceId"] for eni in interfaces
                    if eni.get("Association", {}).get("IpOwnerId") not in (None, "amazon")]
        if not eip_enis:
            return StepPlan(notes=["no Elastic IP associated"])
        addresses = ctx.aws.client("ec2").describe_addresses(
            Filters=[{"Name": "network-interface-id", "Values": eip_enis}])["Addresses"]
        plan = StepPlan(before={"addresses": [
            {k: a.get(k) for k in ("AllocationId", "PublicIp", "NetworkInterfaceId",
                                   "PrivateIpAddress")} for a in addresses]})
        for address in addresses:
            plan.calls.append(Call("ec2", "disassociate_address",
                                   {"AssociationId": address["AssociationId"]},
                                   f"disassociate Elastic IP {address['PublicIp']} from "
                                   f"{address['NetworkInterfaceId']}", dry_run=True))
        return plan

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        addresses = (record.get("before") or {}).get("addresses", [])
        return StepPlan(calls=[Call("ec2", "associate_address", {
            "AllocationId": address["AllocationId"],
            "NetworkInterfaceId": address["NetworkInterfaceId"],
            "PrivateIpAddress": address["PrivateIpAddress"],
            "AllowReassociation": False}, f"re-associate Elastic IP {address['PublicIp']}",
            dry_run=True) for address in addresses])
