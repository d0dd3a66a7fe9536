"""Cut what the security-group swap cannot: paths on which every connection stays tracked.

AWS tracks every flow through a NAT gateway, Transit Gateway, Gateway Load Balancer or
PrivateLink endpoint whatever the security groups say, so an established C2 session through a
NAT gateway survives the transition-group trick. A network ACL is stateless and judged per
packet: a deny entry for the instance's private address on the NAT gateway's subnet stops that
session at once. The entries sit in ircli's rule range (50-99), are tagged
``ircli:contain:<rule>`` and recorded in the case, and ``release`` removes exactly them.
Paths ircli cannot cut on its own (Transit Gateway, appliances) are named, and the run says
isolation is incomplete.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from ircli.aws.ec2 import enis
from ircli.aws.nacl import (
    RULE_MAX,
    RULE_MIN,
    Address,
    cidr,
    cidr_param,
    denies_exactly,
    entries_for,
    network_acls,
    parse_address,
)
from ircli.core.awserrors import error_code
from ircli.core.engine import RunContext
from ircli.core.step import Call, CompileContext, Fragment, Step, StepPlan, register

TAG_CUT = "ircli:contain:"
DNS_WARNING = ("Security groups never filter the Amazon DNS resolver, instance metadata "
               "(169.254.169.254) or Amazon Time Sync: an isolated instance can still tunnel "
               "data out through DNS queries. Block that with Route 53 Resolver DNS Firewall "
               "on the VPC.")


@register
class CutTrackedPaths(Step):
    """Deny the instance's private addresses on its NAT gateways' subnets; name other paths."""

    name = "cut-tracked-paths"
    runbook_targets = ("instance",)
    title = "Cut always-tracked paths"
    milestone = "paths_cut"
    permissions = ("ec2:DescribeRouteTables", "ec2:DescribeNatGateways", "ec2:DescribeVpcEndpoints",
                   "ec2:DescribeNetworkAcls", "ec2:CreateNetworkAclEntry", "ec2:CreateTags")
    undo_permissions = ("ec2:DescribeNetworkAcls", "ec2:DeleteNetworkAclEntry",
                        "ec2:DeleteTags")

    def compile(self, cc: CompileContext) -> Fragment | None:
        from ircli.steps import asl_isolation
        return asl_isolation.tracked_paths(cc.prefix, self.permissions)

    def plan(self, ctx: RunContext) -> StepPlan:
        instance = ctx.facts["instance"]
        plan = StepPlan(warnings=[DNS_WARNING])
        recorded = ctx.record["steps"].get(self.name, {}).get("data", {}).get("cuts", []) \
            if ctx.case is not None else []
        cuts: list[dict[str, Any]] = list(recorded)
        open_paths: list[str] = []
        by_subnet: dict[str, list[Address]] = {}
        vpc_of: dict[str, str] = {}
        for eni in enis(instance):
            addresses = [parse_address(p["PrivateIpAddress"])
                         for p in eni.get("PrivateIpAddresses", []) if p.get("PrivateIpAddress")]
            by_subnet.setdefault(eni["SubnetId"], []).extend(addresses)
            vpc_of[eni["SubnetId"]] = eni["VpcId"]
        nat_subnets: dict[str, str] = {}  # NAT gateway subnet -> the NAT gateway
        for subnet in by_subnet:
            routes = _routes(ctx, subnet, vpc_of[subnet])
            for nat in sorted({r["NatGatewayId"] for r in routes if r.get("NatGatewayId")}):
                nat_subnet = _nat_subnet(ctx, nat)
                if nat_subnet is None:
                    continue
                if nat_subnet == subnet:
                    open_paths.append(f"NAT gateway {nat} (in the instance's own subnet, where "
                                      "a network ACL does not apply)")
                    continue
                nat_subnets[nat_subnet] = nat
            for tgw in sorted({r["TransitGatewayId"] for r in routes
                               if r.get("TransitGatewayId")}):
                open_paths.append(f"Transit Gateway {tgw}")
            for other in sorted({r.get("VpcEndpointId") or r.get("GatewayId", "") for r in routes
                                 if str(r.get("VpcEndpointId") or r.get("GatewayId", ""))
                                 .startswith("vpce-")}):
                open_paths.append(f"Gateway Load Balancer endpoint {other}")
            for eni_id in sorted({r["NetworkInterfaceId"] for r in routes
                                  if r.get("NetworkInterfaceId")}):
                open_paths.append(f"appliance interface {eni_id}")
        for vpc in sorted(set(vpc_of.values())):
            open_paths += [f"PrivateLink endpoint {e['VpcEndpointId']} ({e['ServiceName']})"
                           for e in _endpoints(ctx, vpc) if e.get("VpcEndpointType") ==
                           "Interface" and _foreign(str(e.get("ServiceName", ""))) and
                           str(e.get("State", "available")).lower() in ("available", "pending")]
        addresses = sorted({a for found in by_subnet.values() for a in found}, key=str)
        open_paths += self._plan_cuts(ctx, plan, nat_subnets, addresses, cuts, list(by_subnet))
        if open_paths:
            plan.warnings.append(
                "ISOLATION INCOMPLETE: connections through " + ", ".join(open_paths) + " are "
                "always tracked, so an established session survives the security-group swap. "
                "Block the instance's address on that path (its network ACLs or route tables) "
                "now.")
        if not plan.calls:
            plan.notes.append(f"{len(nat_subnets)} NAT gateway path(s), all cut" if nat_subnets
                              else "no NAT gateway on the instance's routes")
        plan.data = {"cuts": cuts, "open_paths": open_paths}
        # The first look is recorded (done); a re-run that finds nothing new is already-done.
        plan.local_change = ctx.case is not None and self.name not in ctx.record["steps"]
        ctx.facts["tracked_paths"] = {"cut": [f"NAT gateway {nat}" for nat in
                                              nat_subnets.values()], "open": open_paths}
        return plan

    def _plan_cuts(self, ctx: RunContext, plan: StepPlan, nat_subnets: dict[str, str],
                   addresses: list[Address], cuts: list[dict[str, Any]],
                   own_subnets: list[str]) -> list[str]:
        """Plan the deny entries; returns the NAT paths that cannot be cut."""
        uncut: list[str] = []
        if not nat_subnets or not addresses:
            return uncut
        acls = network_acls(ctx.aws, subnet_ids=sorted(nat_subnets))
        case_id = ctx.case.case_id if ctx.case is not None else "dry-run"
        for acl in acls:
            acl_id = acl["NetworkAclId"]
            nats = sorted({nat_subnets[a["SubnetId"]] for a in acl.get("Associations", [])
                           if a.get("SubnetId") in nat_subnets})
            guarded = {a.get("SubnetId") for a in acl.get("Associations", [])}
            own = sorted(guarded & set(own_subnets))
            if own:
                plan.warnings.append(
                    f"{acl_id} guards the NAT gateway's subnet and the instance's own subnet "
                    f"{', '.join(own)}: its deny cuts the instance off from everything outside "
                    "that subnet, SSM endpoints in other subnets included.")
            used = {e["RuleNumber"] for e in acl.get("Entries", [])}
            used |= {c["rule_number"] for c in cuts if c["network_acl_id"] == acl_id}
            for address in addresses:
                if _already_denied(acl, address):
                    continue
                rule = next((r for r in range(RULE_MIN, RULE_MAX + 1) if r not in used), None)
                if rule is None:
                    uncut.append(f"NAT gateway(s) {', '.join(nats)} for {address} ({acl_id} "
                                 f"has no free rule number in {RULE_MIN}-{RULE_MAX})")
                    continue
                used.add(rule)
                cuts.append({"network_acl_id": acl_id, "rule_number": rule,
                             "address": str(address), "nat_gateways": nats})
                plan.calls += [
                    Call("ec2", "create_tags", {"Resources": [acl_id], "Tags": [
                        {"Key": f"{TAG_CUT}{rule}",
                         "Value": f"{address}|{case_id}|{ctx.target_id}"}]},
                        f"{acl_id}: record the cut of {address} (rule {rule})", dry_run=True),
                    *(_deny(acl_id, rule, address, egress, nats) for egress in (False, True))]
        return uncut

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        """Remove exactly the entries the case made, where they still deny its address."""
        cuts = record.get("data", {}).get("cuts", [])
        if not cuts:
            return None
        acls = _acls(ctx, sorted({c["network_acl_id"] for c in cuts}))
        plan = StepPlan()
        for cut in cuts:
            acl = acls.get(cut["network_acl_id"])
            if acl is None:
                continue
            address = parse_address(cut["address"])
            for entry in entries_for(acl, cut["rule_number"]):
                if not denies_exactly(entry, address):
                    plan.warnings.append(f"{acl['NetworkAclId']}: rule {cut['rule_number']} no "
                                         f"longer denies {address}; left alone")
                    continue
                way = "outbound" if entry["Egress"] else "inbound"
                plan.calls.append(Call("ec2", "delete_network_acl_entry", {
                    "NetworkAclId": acl["NetworkAclId"], "RuleNumber": cut["rule_number"],
                    "Egress": entry["Egress"]},
                    f"{acl['NetworkAclId']}: remove the {way} deny of {cidr(address)} "
                    f"(rule {cut['rule_number']})"))
            plan.calls.append(Call("ec2", "delete_tags", {
                "Resources": [acl["NetworkAclId"]],
                "Tags": [{"Key": f"{TAG_CUT}{cut['rule_number']}"}]},
                f"{acl['NetworkAclId']}: drop the record of rule {cut['rule_number']}",
                dry_run=True))
        return plan


def _acls(ctx: RunContext, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The ACLs by id; one deleted since containment is simply not there."""
    ec2 = ctx.aws.client("ec2")
    found: dict[str, dict[str, Any]] = {}
    for acl_id in ids:
        try:
            acls = ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"]
        except botocore.exceptions.ClientError as err:
            if error_code(err) != "InvalidNetworkAclID.NotFound":
                raise
            continue
        found.update({a["NetworkAclId"]: a for a in acls})
    return found


def _foreign(service: str) -> bool:
    """An endpoint service someone runs (``com.amazonaws.vpce.<region>.vpce-svc-…``, or a
    partner's), not an AWS service endpoint (``com.amazonaws.<region>.ssm``)."""
    return ".vpce-svc-" in service or not service.startswith("com.amazonaws.")


def _endpoints(ctx: RunContext, vpc: str) -> list[dict[str, Any]]:
    """The VPC's endpoints (as isolate read them, or read now)."""
    known: list[dict[str, Any]] | None = ctx.facts.get("vpc_endpoints", {}).get(vpc)
    if known is not None:
        return known
    pages = ctx.aws.client("ec2").get_paginator("describe_vpc_endpoints").paginate(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    return [e for page in pages for e in page["VpcEndpoints"]]


def _routes(ctx: RunContext, subnet: str, vpc: str) -> list[dict[str, Any]]:
    """The active routes of the subnet's route table (its own, else the VPC's main one)."""
    ec2 = ctx.aws.client("ec2")
    tables = ec2.describe_route_tables(Filters=[
        {"Name": "association.subnet-id", "Values": [subnet]}])["RouteTables"]
    if not tables:
        tables = ec2.describe_route_tables(Filters=[
            {"Name": "vpc-id", "Values": [vpc]}, {"Name": "association.main",
                                                  "Values": ["true"]}])["RouteTables"]
    return [r for t in tables for r in t.get("Routes", []) if r.get("State") != "blackhole"]


def _nat_subnet(ctx: RunContext, nat: str) -> str | None:
    found = ctx.aws.client("ec2").describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"]
    live = [g for g in found if g.get("State") not in ("deleted", "deleting", "failed")]
    return str(live[0]["SubnetId"]) if live else None


def _already_denied(acl: dict[str, Any], address: Address) -> bool:
    """Both directions already denied for exactly this address in ircli's range."""
    ways = {bool(e["Egress"]) for e in acl.get("Entries", [])
            if RULE_MIN <= e["RuleNumber"] <= RULE_MAX and denies_exactly(e, address)}
    return ways == {False, True}


def _deny(acl_id: str, rule: int, address: Address, egress: bool, nats: list[str]) -> Call:
    # Not proved in a dry-run: the emulator ignores DryRun here and would create the entry.
    way = "outbound" if egress else "inbound"
    return Call("ec2", "create_network_acl_entry", {
        "NetworkAclId": acl_id, "RuleNumber": rule, "Protocol": "-1", "RuleAction": "deny",
        "Egress": egress, **cidr_param(address)},
        f"{acl_id}: deny all {way} traffic {'to' if egress else 'from'} {cidr(address)} on "
        f"the path through {', '.join(nats)} (rule {rule})")
