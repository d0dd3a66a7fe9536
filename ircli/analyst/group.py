"""The analyst's security group: nothing in, and out only tcp/443 to the VPC's endpoints.

Session Manager needs no inbound rule (the agent dials out to the SSM endpoints), so nobody —
the suspect least of all — can open a connection to the analyst. The group is found by name
in the VPC and brought back to exactly these rules if someone changed it.
"""

from __future__ import annotations

from typing import Any

from ircli.analyst import names as n
from ircli.analyst.record import remember_result
from ircli.core.engine import RunContext
from ircli.core.step import Call, Ref, Step, StepPlan, register, resolve_refs

_DEFAULT_EGRESS = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


@register
class AnalystGroup(Step):
    """Find or create ``ircli-analyst`` in the forensic VPC with no inbound rules."""

    name = "analyst-group"
    audience = "analyst"
    title = "Analyst security group"
    critical = True
    permissions = ("ec2:DescribeSecurityGroups", "ec2:CreateSecurityGroup", "ec2:CreateTags",
                   "ec2:RevokeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress",
                   "ec2:AuthorizeSecurityGroupEgress")

    def plan(self, ctx: RunContext) -> StepPlan:
        vpc = ctx.facts["vpc"]
        groups, lists = ctx.facts["endpoint_groups"], ctx.facts["s3_prefix_lists"]
        desired = _egress(groups, lists)
        plan = StepPlan()
        found = [] if isinstance(vpc, Ref) else ctx.aws.client("ec2").describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc]},
                     {"Name": "group-name", "Values": [n.ANALYST_GROUP]}])["SecurityGroups"]
        if not found:
            ref = Ref("analyst/sg")
            plan.calls += new_group(
                ctx, ref, vpc, n.ANALYST_GROUP, n.PURPOSE_WORKSTATION,
                "ircli analyst: no inbound; https to the VPC endpoints only")
            if desired:
                plan.calls.append(_authorize(ref, desired))
            ctx.facts["analyst_sg"] = ref
            return plan
        group = found[0]
        gid = str(group["GroupId"])
        ctx.facts["analyst_sg"] = gid
        if group["IpPermissions"]:
            plan.warnings.append(f"{n.ANALYST_GROUP} {gid} had inbound rules; ircli removes them.")
            plan.calls.append(Call("ec2", "revoke_security_group_ingress",
                                   {"GroupId": gid, "IpPermissions": group["IpPermissions"]},
                                   f"{n.ANALYST_GROUP}: remove every inbound rule", dry_run=True))
        if _targets(group["IpPermissionsEgress"]) != _targets(desired):
            if group["IpPermissionsEgress"]:
                plan.calls.append(Call(
                    "ec2", "revoke_security_group_egress",
                    {"GroupId": gid, "IpPermissions": group["IpPermissionsEgress"]},
                    f"{n.ANALYST_GROUP}: remove outbound rules other than tcp/443 to endpoints",
                    dry_run=True))
            if desired:
                plan.calls.append(_authorize(gid, desired))
        if not plan.calls:
            plan.notes.append(f"reusing {n.ANALYST_GROUP} {gid}")
        plan.data = {"security_group_id": gid}
        return plan

    def apply(self, ctx: RunContext, plan: StepPlan) -> None:
        super().apply(ctx, plan)
        ctx.facts["analyst_sg"] = resolve_refs(ctx.facts["analyst_sg"], ctx.values)
        plan.data = {"security_group_id": ctx.facts["analyst_sg"]}


def new_group(ctx: RunContext, ref: Ref, vpc: str | Ref, name: str, purpose: str,
              description: str) -> list[Call]:
    """Create a tagged group with no rules at all (AWS adds allow-all egress: revoke it)."""
    return [
        Call("ec2", "create_security_group", {
            "VpcId": vpc, "GroupName": name, "Description": description,
            "TagSpecifications": n.tag_spec("security-group", n.tags(name, purpose))},
            f"create security group {name}: {description}", dry_run=True,
            produces=(ref.name, "GroupId"),
            on_result=remember_result(ctx, "security-group", "GroupId")),
        Call("ec2", "revoke_security_group_egress",
             {"GroupId": ref, "IpPermissions": _DEFAULT_EGRESS},
             f"{name}: remove the default allow-all outbound rule")]


def _egress(groups: list[Any], prefix_lists: list[str]) -> list[dict[str, Any]]:
    if not groups and not prefix_lists:
        return []
    rule: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}
    if groups:
        rule["UserIdGroupPairs"] = [{"GroupId": g, "Description": "ircli: VPC endpoint"}
                                    for g in groups]
    if prefix_lists:
        rule["PrefixListIds"] = [{"PrefixListId": p, "Description": "ircli: S3 gateway"}
                                 for p in prefix_lists]
    return [rule]


def _authorize(group: str | Ref, rules: list[dict[str, Any]]) -> Call:
    return Call("ec2", "authorize_security_group_egress", {"GroupId": group,
                                                          "IpPermissions": rules},
                f"{n.ANALYST_GROUP}: allow tcp/443 out to the VPC endpoints only")


def _targets(rules: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """Every (protocol, ports, destination) a rule list allows, for comparison."""
    found: set[tuple[Any, ...]] = set()
    for rule in rules:
        ports = (rule.get("IpProtocol"), rule.get("FromPort"), rule.get("ToPort"))
        found |= {(*ports, "cidr", r.get("CidrIp")) for r in rule.get("IpRanges", [])}
        found |= {(*ports, "cidr6", r.get("CidrIpv6")) for r in rule.get("Ipv6Ranges", [])}
        found |= {(*ports, "group", str(p.get("GroupId")))
                  for p in rule.get("UserIdGroupPairs", [])}
        found |= {(*ports, "prefix", p.get("PrefixListId")) for p in rule.get("PrefixListIds", [])}
    return found
