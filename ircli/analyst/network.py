"""The forensic network: where the analyst runs, out of the suspect's reach.

``--create-network`` builds one VPC per account and region (found again by its name): one
private subnet, no internet gateway, an S3 gateway endpoint and the SSM interface endpoints, so
the analyst reaches S3 and Session Manager and nothing else. ``--subnet`` uses a subnet the
responder prepared, after checking it is not in the suspect's VPC.
"""

from __future__ import annotations

from typing import Any

from ircli.analyst import names as n
from ircli.analyst.group import new_group
from ircli.analyst.record import remember_result
from ircli.core.engine import RunContext
from ircli.core.errors import UserError
from ircli.core.step import Call, Ref, Step, StepPlan, register, resolve_refs
from ircli.steps.isolate import _endpoint_targets as endpoint_targets
from ircli.steps.names import TAG_MANAGED

_GONE = ("deleted", "deleting", "failed", "rejected", "expired")


@register
class ForensicNetwork(Step):
    """Find or build the forensic network; ``ctx.facts`` then names its VPC, subnet, endpoints."""

    name = "analyst-network"
    audience = "analyst"
    title = "Forensic network"
    critical = True
    validates_input = True
    permissions = (
        "ec2:DescribeSubnets", "ec2:DescribeVpcs", "ec2:DescribeVpcAttribute",
        "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeRouteTables",
        "ec2:DescribeSecurityGroups", "ec2:DescribeVpcEndpoints",
        "ec2:DescribeVpcEndpointServices", "ec2:DescribeManagedPrefixLists",
        "ec2:DescribeVpcPeeringConnections", "ec2:CreateVpc", "ec2:ModifyVpcAttribute",
        "ec2:CreateSubnet", "ec2:CreateRouteTable", "ec2:AssociateRouteTable",
        "ec2:CreateSecurityGroup", "ec2:RevokeSecurityGroupEgress",
        "ec2:AuthorizeSecurityGroupIngress", "ec2:CreateVpcEndpoint", "ec2:CreateTags",
    )

    def __init__(self, subnet_id: str | None = None, create: bool = False,
                 instance_type: str = n.DEFAULT_INSTANCE_TYPE) -> None:
        self.subnet_id = subnet_id
        self.create = create
        self.instance_type = instance_type

    def plan(self, ctx: RunContext) -> StepPlan:
        if self.subnet_id:
            return self._given_subnet(ctx, self.subnet_id)
        if not self.create:
            raise UserError("Say where the analyst runs.",
                            "Pass --subnet SUBNET_ID (a forensic subnet), or --create-network.")
        return self._forensic_vpc(ctx)

    # -- --subnet ------------------------------------------------------------------------
    def _given_subnet(self, ctx: RunContext, subnet_id: str) -> StepPlan:
        ec2 = ctx.aws.client("ec2")
        subnet = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]
        vpc = subnet["VpcId"]
        suspects = set(ctx.facts.get("suspect_vpcs", ()))
        if vpc in suspects:
            raise UserError(
                f"Subnet {subnet_id} is in {vpc}, the VPC of the contained instance, and the "
                "analyst must be in a network the suspect cannot reach.",
                "Pass --create-network, or a subnet of a forensic VPC.")
        plan = StepPlan(notes=[f"subnet {subnet_id} in {vpc} ({subnet['AvailabilityZone']})"])
        peerings = ec2.describe_vpc_peering_connections(Filters=[
            {"Name": "status-code", "Values": ["active"]},
            {"Name": "accepter-vpc-info.vpc-id", "Values": [vpc]}])["VpcPeeringConnections"]
        peerings += ec2.describe_vpc_peering_connections(Filters=[
            {"Name": "status-code", "Values": ["active"]},
            {"Name": "requester-vpc-info.vpc-id", "Values": [vpc]}])["VpcPeeringConnections"]
        peered = {p[side]["VpcId"] for p in peerings
                  for side in ("AccepterVpcInfo", "RequesterVpcInfo")} & suspects
        if peered:
            plan.warnings.append(f"{vpc} is peered with the suspect's VPC {', '.join(peered)}; "
                                 "the isolation group still blocks the suspect, but a forensic "
                                 "VPC should have no peering.")
        groups, prefix_lists, services, _open = endpoint_targets(ctx, vpc)
        if not set(n.SSM_SERVICES) <= services:
            plan.warnings.append(
                f"{vpc} lacks SSM interface endpoints ({', '.join(n.SSM_SERVICES)}): Session "
                "Manager will not reach the analyst. Add them, or use --create-network.")
        if not prefix_lists:
            plan.warnings.append(f"{vpc} has no S3 gateway endpoint: the analyst cannot read "
                                 "the evidence bucket. Add one, or use --create-network.")
        ctx.facts.update(vpc=vpc, subnet=subnet_id, az=subnet["AvailabilityZone"],
                         endpoint_groups=sorted(groups), s3_prefix_lists=sorted(prefix_lists))
        plan.data = {"vpc_id": vpc, "subnet_id": subnet_id, "network": "--subnet"}
        return plan

    # -- --create-network ----------------------------------------------------------------
    def _forensic_vpc(self, ctx: RunContext) -> StepPlan:
        ec2 = ctx.aws.client("ec2")
        plan = StepPlan()
        found = ec2.describe_vpcs(Filters=[
            {"Name": "tag:Name", "Values": [n.FORENSIC_VPC]},
            {"Name": f"tag:{TAG_MANAGED}", "Values": ["true"]}])["Vpcs"]
        vpc: str | Ref = found[0]["VpcId"] if found else Ref("forensic/vpc")
        if isinstance(vpc, Ref):
            plan.calls.append(Call("ec2", "create_vpc", {
                "CidrBlock": n.FORENSIC_CIDR, "TagSpecifications": n.tag_spec(
                    "vpc", n.tags(n.FORENSIC_VPC, n.PURPOSE_NETWORK))},
                f"create VPC {n.FORENSIC_VPC} ({n.FORENSIC_CIDR}, no internet gateway)",
                dry_run=True, produces=(vpc.name, "Vpc.VpcId"),
                on_result=remember_result(ctx, "vpc", "Vpc.VpcId")))
        else:
            plan.notes.append(f"reusing {n.FORENSIC_VPC} {vpc}")
        self._dns(ctx, plan, vpc)
        subnet, az = self._subnet(ctx, plan, vpc)
        routes = self._route_table(ctx, plan, vpc, subnet)
        endpoint_sg = self._endpoint_group(ctx, plan, vpc)
        self._endpoints(ctx, plan, vpc, subnet, routes, endpoint_sg)
        if plan.calls:  # the gateway's prefix list exists before the gateway does
            groups: list[str | Ref] = [endpoint_sg]
            lists = [p["PrefixListId"] for p in ec2.describe_managed_prefix_lists(Filters=[
                {"Name": "prefix-list-name", "Values": [self._service(ctx, "s3")]}])[
                    "PrefixLists"]]
        else:
            found_groups, found_lists, _, _open = endpoint_targets(ctx, str(vpc))
            groups, lists = [*sorted(found_groups)], sorted(found_lists)
        ctx.facts.update(vpc=vpc, subnet=subnet, az=az, endpoint_groups=groups,
                         s3_prefix_lists=lists)
        plan.pending = {"vpc_id": vpc, "subnet_id": subnet, "network": n.FORENSIC_VPC}
        if not plan.calls:
            plan.data = dict(plan.pending)
        return plan

    def _dns(self, ctx: RunContext, plan: StepPlan, vpc: str | Ref) -> None:
        """Interface endpoints with private DNS need both VPC DNS attributes on."""
        for attribute, key in (("enableDnsSupport", "EnableDnsSupport"),
                               ("enableDnsHostnames", "EnableDnsHostnames")):
            if isinstance(vpc, str) and ctx.aws.client("ec2").describe_vpc_attribute(
                    VpcId=vpc, Attribute=attribute)[key]["Value"]:
                continue
            plan.calls.append(Call("ec2", "modify_vpc_attribute",
                                   {"VpcId": vpc, key: {"Value": True}},
                                   f"{n.FORENSIC_VPC}: turn on {attribute} (endpoint DNS)"))

    def _subnet(self, ctx: RunContext, plan: StepPlan, vpc: str | Ref
                ) -> tuple[str | Ref, str]:
        ec2 = ctx.aws.client("ec2")
        if isinstance(vpc, str):
            found = ec2.describe_subnets(Filters=[
                {"Name": "vpc-id", "Values": [vpc]},
                {"Name": "tag:Name", "Values": [n.FORENSIC_SUBNET]}])["Subnets"]
            if found:
                return found[0]["SubnetId"], found[0]["AvailabilityZone"]
        az = self._zone(ctx)
        ref = Ref("forensic/subnet")
        plan.calls.append(Call("ec2", "create_subnet", {
            "VpcId": vpc, "CidrBlock": n.SUBNET_CIDR, "AvailabilityZone": az,
            "TagSpecifications": n.tag_spec("subnet", n.tags(n.FORENSIC_SUBNET,
                                                              n.PURPOSE_NETWORK))},
            f"create private subnet {n.FORENSIC_SUBNET} ({n.SUBNET_CIDR}) in {az}",
            dry_run=True, produces=(ref.name, "Subnet.SubnetId"),
            on_result=remember_result(ctx, "subnet", "Subnet.SubnetId")))
        return ref, az

    def _zone(self, ctx: RunContext) -> str:
        """The first availability zone that offers the analyst's instance type."""
        pages = ctx.aws.client("ec2").get_paginator("describe_instance_type_offerings").paginate(
            LocationType="availability-zone",
            Filters=[{"Name": "instance-type", "Values": [self.instance_type]}])
        zones = sorted(o["Location"] for page in pages for o in page["InstanceTypeOfferings"])
        if not zones:
            raise UserError(f"No availability zone of {ctx.aws.region} offers "
                            f"{self.instance_type}.", "Pass another --instance-type.")
        return str(zones[0])

    def _route_table(self, ctx: RunContext, plan: StepPlan, vpc: str | Ref,
                     subnet: str | Ref) -> str | Ref:
        """A route table of the subnet's own: local routes only, plus the S3 gateway."""
        table: str | Ref = Ref("forensic/routes")
        associated = False
        if isinstance(vpc, str):
            found = ctx.aws.client("ec2").describe_route_tables(Filters=[
                {"Name": "vpc-id", "Values": [vpc]},
                {"Name": "tag:Name", "Values": [n.FORENSIC_ROUTES]}])["RouteTables"]
            if found:
                table = found[0]["RouteTableId"]
                associated = any(a.get("SubnetId") == subnet
                                 for a in found[0].get("Associations", []))
        if isinstance(table, Ref):
            plan.calls.append(Call("ec2", "create_route_table", {
                "VpcId": vpc, "TagSpecifications": n.tag_spec(
                    "route-table", n.tags(n.FORENSIC_ROUTES, n.PURPOSE_NETWORK))},
                f"create route table {n.FORENSIC_ROUTES} (local routes only)", dry_run=True,
                produces=(table.name, "RouteTable.RouteTableId"),
                on_result=remember_result(ctx, "route-table", "RouteTable.RouteTableId")))
        if not associated:
            plan.calls.append(Call("ec2", "associate_route_table",
                                   {"RouteTableId": table, "SubnetId": subnet},
                                   f"associate route table {n.FORENSIC_ROUTES} with the subnet",
                                   dry_run=True))
        return table

    def _endpoint_group(self, ctx: RunContext, plan: StepPlan, vpc: str | Ref) -> str | Ref:
        """The interface endpoints' group: tcp/443 in from the forensic VPC, nothing out."""
        if isinstance(vpc, str):
            found = ctx.aws.client("ec2").describe_security_groups(Filters=[
                {"Name": "vpc-id", "Values": [vpc]},
                {"Name": "group-name", "Values": [n.ENDPOINT_GROUP]}])["SecurityGroups"]
            if found:
                return str(found[0]["GroupId"])
        ref = Ref("forensic/endpoint-sg")
        plan.calls += [
            *new_group(ctx, ref, vpc, n.ENDPOINT_GROUP, n.PURPOSE_NETWORK,
                       "ircli forensic VPC endpoints: https from the forensic VPC"),
            Call("ec2", "authorize_security_group_ingress", {"GroupId": ref, "IpPermissions": [
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [
                    {"CidrIp": n.FORENSIC_CIDR, "Description": "ircli forensic VPC"}]}]},
                f"{n.ENDPOINT_GROUP}: allow tcp/443 in from {n.FORENSIC_CIDR}"),
        ]
        return ref

    def _endpoints(self, ctx: RunContext, plan: StepPlan, vpc: str | Ref, subnet: str | Ref,
                   routes: str | Ref, endpoint_sg: str | Ref) -> None:
        present: set[str] = set()
        if isinstance(vpc, str):
            pages = ctx.aws.client("ec2").get_paginator("describe_vpc_endpoints").paginate(
                Filters=[{"Name": "vpc-id", "Values": [vpc]}])
            present = {e["ServiceName"].rsplit(".", 1)[-1] for page in pages
                       for e in page["VpcEndpoints"]
                       if str(e.get("State", "")).lower() not in _GONE}
        if "s3" not in present:
            plan.calls.append(self._endpoint(ctx, "s3", {
                "VpcEndpointType": "Gateway", "VpcId": vpc, "RouteTableIds": [routes]}))
        for service in n.SSM_SERVICES:
            if service not in present:
                plan.calls.append(self._endpoint(ctx, service, {
                    "VpcEndpointType": "Interface", "VpcId": vpc, "SubnetIds": [subnet],
                    "SecurityGroupIds": [endpoint_sg], "PrivateDnsEnabled": True}))

    def _endpoint(self, ctx: RunContext, service: str, params: dict[str, Any]) -> Call:
        kind = params["VpcEndpointType"].lower()
        return Call("ec2", "create_vpc_endpoint", {
            **params, "ServiceName": self._service(ctx, service),
            "TagSpecifications": n.tag_spec("vpc-endpoint", n.tags(
                f"ircli-forensic-{service}", n.PURPOSE_NETWORK))},
            f"create {kind} endpoint for {service}", dry_run=True,
            on_result=remember_result(ctx, "vpc-endpoint", "VpcEndpoint.VpcEndpointId",
                                      service=service))

    @staticmethod
    def _service(ctx: RunContext, service: str) -> str:
        """The endpoint service name as this partition spells it (never hard-coded)."""
        names: list[str] = ctx.facts.get("endpoint_services") or []
        if not names:
            pages = ctx.aws.client("ec2").get_paginator(
                "describe_vpc_endpoint_services").paginate()
            names = [name for page in pages for name in page.get("ServiceNames", [])]
            ctx.facts["endpoint_services"] = names
        suffix = f".{ctx.aws.region}.{service}"
        for name in names:
            if name.endswith(suffix):
                return name
        raise UserError(f"Region {ctx.aws.region} offers no VPC endpoint for {service}.",
                        "Use --subnet with a forensic subnet you prepared instead.")

    def apply(self, ctx: RunContext, plan: StepPlan) -> None:
        super().apply(ctx, plan)
        for key in ("vpc", "subnet", "endpoint_groups"):
            ctx.facts[key] = resolve_refs(ctx.facts[key], ctx.values)
        plan.data = resolve_refs(plan.pending, ctx.values)
