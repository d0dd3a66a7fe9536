"""Network isolation: every ENI to an allow-all group, then to the isolation group.

The two-step matters: changing groups does not cut connections that are already tracked
(idle TCP stays tracked for five days), but flows allowed by an all-traffic 0.0.0.0/0 rule both
ways are untracked, and untracked flows stop the moment the isolation group replaces it.
This module moves the ENIs (and rolls one back that cannot reach the isolation group); which
groups they move to, and how those are made exact, is ``isolation_groups``.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from ircli.aws.ec2 import enis
from ircli.core.awserrors import describe
from ircli.core.engine import RunContext
from ircli.core.errors import StepFailed
from ircli.core.step import (
    Call,
    CompileContext,
    Fragment,
    NotCompilable,
    Ref,
    Step,
    StepPlan,
    register,
    resolve_refs,
)
from ircli.steps.isolation_groups import (
    apply_groups,
    known,
    label,
    plan_groups,
    retrying,
)
from ircli.steps.isolation_groups import (  # analyst.network reads the endpoints from here
    endpoint_targets as _endpoint_targets,
)
from ircli.steps.names import SsmEgress, isolation_group_name

__all__ = ["DisassociateElasticIps", "Isolate", "_endpoint_targets"]
_MOVE = "modify_network_interface_attribute"


@register
class Isolate(Step):
    """Move every ENI behind the isolation group: the first change containment makes.

    Every group ircli would reuse is read back and compared with exactly the rules ircli would
    give it: an ircli-made group that drifted is repaired, a look-alike someone else made is
    never used (ircli takes the next deterministic name, ``<name>-2``…, and warns). Both groups
    are visible and exact before the first ENI moves; each ENI then goes transition →
    isolation back to back, and one that cannot reach the isolation group is put back on its
    recorded groups rather than left in the allow-all transition group.
    """

    name = "isolate"
    runbook_targets = ("instance",)
    title = "Isolate the network"
    critical = True
    milestone = "isolated"
    permissions = (
        "ec2:DescribeSecurityGroups", "ec2:CreateSecurityGroup", "ec2:CreateTags",
        "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress",
        "ec2:DescribeVpcEndpoints", "ec2:DescribeManagedPrefixLists",
        "ec2:ModifyNetworkInterfaceAttribute",
    )
    undo_permissions = ("ec2:ModifyNetworkInterfaceAttribute",)

    def __init__(self, ssm_egress: SsmEgress = "endpoints", analyst_sg: str | None = None
                 ) -> None:
        self.ssm_egress = ssm_egress
        self.analyst_sg = analyst_sg

    def compile(self, cc: CompileContext) -> Fragment | None:
        from ircli.steps import asl_isolation
        if self.analyst_sg or self.ssm_egress == "any":
            raise NotCompilable(self.name, "analyst_sg and ssm_egress 'any' have no compiled "
                                "form yet (the isolation group's rules would differ)")
        return asl_isolation.isolate(cc.prefix, isolation_group_name(self.ssm_egress, None),
                                      self.ssm_egress, self.permissions)

    def plan(self, ctx: RunContext) -> StepPlan:
        instance = ctx.facts["instance"]
        interfaces = enis(instance)
        vpcs = sorted({eni["VpcId"] for eni in interfaces})
        plan = StepPlan(before={"network_interfaces": [
            {"id": eni["NetworkInterfaceId"], "groups": [g["GroupId"] for g in eni["Groups"]],
             "group_names": [g.get("GroupName") for g in eni["Groups"]]}
            for eni in interfaces]})
        choice = plan_groups(ctx, plan, vpcs, self.ssm_egress, self.analyst_sg)
        trans, iso, iso_names = choice.transition, choice.isolation, choice.names
        pending = [eni for eni in interfaces
                   if [g["GroupId"] for g in eni["Groups"]] != [iso[eni["VpcId"]]]]
        for eni in pending:  # back to back per ENI: no ENI waits in allow-all for another
            vpc = eni["VpcId"]
            if [g["GroupId"] for g in eni["Groups"]] != [trans[vpc]]:
                plan.calls.append(_set_groups(eni["NetworkInterfaceId"], trans[vpc],
                                              "allow-all transition group (untracks flows)"))
            plan.calls.append(_set_groups(eni["NetworkInterfaceId"], iso[vpc],
                                          f"isolation group {label(iso[vpc], iso_names[vpc])}"))
        if pending:
            plan.notes.append("an ENI that cannot be moved on to the isolation group is put "
                              "back on its recorded groups, never left in the transition group")
        else:
            plan.notes.append(f"all {len(interfaces)} ENI(s) already hold only the isolation "
                              "group")
        plan.pending.update(isolation_groups=iso, checks=choice.checks)
        plan.data["isolation_groups"] = {vpc: known(iso[vpc]) for vpc in vpcs}
        ctx.facts["isolation_groups"] = plan.data["isolation_groups"]
        return plan

    def merge_before(self, recorded: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        """An ENI attached after containment joins the record with its own groups; the ENIs
        recorded first keep their original groups."""
        known = {eni["id"] for eni in recorded.get("network_interfaces", [])}
        added = [eni for eni in new.get("network_interfaces", []) if eni["id"] not in known]
        return {**recorded, "network_interfaces": [*recorded.get("network_interfaces", []),
                                                   *added]}

    def apply(self, ctx: RunContext, plan: StepPlan) -> None:
        moves = [c for c in plan.calls if c.method == _MOVE]
        group_calls = [c for c in plan.calls if c.method != _MOVE]
        apply_groups(ctx, group_calls, plan.pending["checks"])
        plan.data["isolation_groups"] = resolve_refs(plan.pending["isolation_groups"],
                                                     ctx.values)
        ctx.facts["isolation_groups"] = plan.data["isolation_groups"]
        failed: list[str] = []
        reasons: list[str] = []
        by_eni: dict[str, list[Call]] = {}
        for call in moves:
            by_eni.setdefault(call.params["NetworkInterfaceId"], []).append(call)
        for eni_id, calls in by_eni.items():
            # Already in the transition group when only the isolation move is left to do.
            in_transition = len(calls) == 1
            try:
                for call in calls:
                    retrying(ctx, call)
                    in_transition = True
            except botocore.exceptions.ClientError as err:
                failed.append(eni_id)
                reasons.append(describe(err))
                ctx.warnings.append(self._roll_back(ctx, eni_id, in_transition, err))
        if failed:
            raise StepFailed(
                f"ENI(s) {', '.join(failed)} could not be moved to the isolation group, so the "
                f"instance is NOT isolated: {reasons[0]}", "See the warnings for where each ENI "
                "is now, fix the cause (permissions, limits), then run `ircli contain` again.")

    def _roll_back(self, ctx: RunContext, eni_id: str, in_transition: bool,
                   err: botocore.exceptions.ClientError) -> str:
        """Put an ENI that did not reach the isolation group back on its recorded groups."""
        reason = describe(err)
        if not in_transition:
            return (f"ENI {eni_id} could not be moved to the transition group ({reason}); it "
                    "is still on its original groups, not isolated.")
        recorded = next((e["groups"] for e in ctx.record["steps"].get(self.name, {}).get(
            "before", {}).get("network_interfaces", []) if e["id"] == eni_id), None)
        if not recorded:
            return (f"DANGER: ENI {eni_id} is in the allow-all transition group ({reason}) and "
                    "no original groups are recorded for it: move it to a deny-all group now.")
        back = Call("ec2", _MOVE, {"NetworkInterfaceId": eni_id, "Groups": recorded},
                    f"{eni_id}: back to its recorded groups {', '.join(recorded)} (rollback)")
        try:
            retrying(ctx, back)
        except botocore.exceptions.ClientError as again:
            return (f"DANGER: ENI {eni_id} is still in the allow-all transition group: moving it "
                    f"to the isolation group failed ({reason}) and moving it back failed too "
                    f"({describe(again)}). Run now: aws ec2 modify-network-interface-attribute "
                    f"--network-interface-id {eni_id} --groups {' '.join(recorded)}")
        return (f"ROLLED BACK: ENI {eni_id} could not be moved to the isolation group "
                f"({reason}); it was put back on its recorded groups {', '.join(recorded)} "
                "instead of staying in the allow-all transition group. It is NOT isolated.")

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        """Restore each recorded ENI still attached to the instance; never one that left it."""
        before = record.get("before") or {}
        attached = {eni["NetworkInterfaceId"] for eni in
                    ctx.facts.get("instance", {}).get("NetworkInterfaces", [])}
        plan = StepPlan()
        for eni in before.get("network_interfaces", []):
            if eni["id"] not in attached:
                plan.warnings.append(f"{eni['id']} is no longer attached to {ctx.target_id}: "
                                     "left as it is (restore its groups by hand if it should "
                                     f"get {', '.join(eni['groups'])} back)")
                continue
            plan.calls.append(Call("ec2", _MOVE,
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


def _set_groups(eni_id: str, group: str | Ref, why: str) -> Call:
    return Call("ec2", "modify_network_interface_attribute",
                {"NetworkInterfaceId": eni_id, "Groups": [group]}, f"{eni_id}: {why}",
                dry_run=True)


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

    def compile(self, cc: CompileContext) -> Fragment | None:
        from ircli.steps import asl_isolation
        return asl_isolation.disassociate_eips(cc.prefix, self.permissions)

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
