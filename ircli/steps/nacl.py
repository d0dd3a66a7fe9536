"""Block an address in network ACLs for a while, lift it again, and lift expired blocks.

Security groups only allow, so a deny for one address needs a network ACL entry; it works on
the subnet boundary for every instance there. The expiry is a tag on the ACL (see
:mod:`ircli.aws.nacl`), written *before* the entries, so no ircli entry ever lacks one.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from ircli.aws.nacl import (
    RULE_MAX,
    RULE_MIN,
    Address,
    Block,
    blocks_of,
    cidr,
    cidr_param,
    denies_exactly,
    earlier_allows,
    entries_for,
    expiry_text,
    free_rule,
    network_acls,
    parse_address,
    private_reason,
    vpc_ranges,
)
from ircli.core.case import check_case_id, open_case
from ircli.core.engine import RunContext
from ircli.core.errors import InvalidInput, NotFound, UserError
from ircli.core.step import Call, CompileContext, Fragment, NotCompilable, Step, StepPlan, register

VPC_ID = re.compile(r"^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
SUBNET_ID = re.compile(r"^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
MAX_HOURS = 24 * 365


@register
class ResolveNetwork(Step):
    """Find the network ACLs guarding the VPC's (or the named subnets') subnets."""

    name = "resolve-network"
    title = "Find the network ACLs"
    permissions = ("ec2:DescribeNetworkAcls", "ec2:DescribeSubnets", "ec2:DescribeVpcs")
    critical = True
    validates_input = True

    def __init__(self, address: str | None = None, vpc: str | None = None,
                 subnets: list[str] | None = None) -> None:
        """address: the address to act on (none for --expire)
        vpc: every subnet of this VPC
        subnets: only these subnets
        """
        self.address = address
        self.vpc = vpc
        self.subnets = subnets

    def compile(self, cc: CompileContext) -> Fragment | None:
        """The ACL of the attacked instance's subnet; a private address is refused."""
        from ircli.steps import asl_nacl
        return asl_nacl.resolve_network(cc.prefix, ("ec2:DescribeInstances",
                                                    "ec2:DescribeNetworkAcls"))

    def plan(self, ctx: RunContext) -> StepPlan:
        if self.address is not None:
            ctx.facts["address"] = parse_address(self.address)
        if self.vpc and not VPC_ID.match(self.vpc):
            raise InvalidInput(f"'{self.vpc}' is not a VPC id.", "VPC ids look like vpc-0abc…")
        for subnet in self.subnets or []:
            if not SUBNET_ID.match(subnet):
                raise InvalidInput(f"'{subnet}' is not a subnet id.",
                                   "Subnet ids look like subnet-0abc…")
        if self.vpc:
            ctx.aws.client("ec2").describe_vpcs(VpcIds=[self.vpc])  # NotFound for a wrong id
        if self.subnets:
            ctx.aws.client("ec2").describe_subnets(SubnetIds=self.subnets)
        # Every ACL of the scope: lifting a block must find it even where no subnet uses the
        # ACL any more; blocking uses only the ACLs that guard a subnet.
        acls = network_acls(ctx.aws, vpc_id=self.vpc, subnet_ids=self.subnets)
        scope = self.vpc or ", ".join(self.subnets or []) or ctx.aws.region
        if (self.vpc or self.subnets) and not any(acl.get("Associations") for acl in acls):
            raise NotFound(f"No network ACL guards a subnet of {scope}.",
                           "Check the VPC or subnet ids and --region.")
        ctx.facts["network_acls"] = acls
        ctx.facts["vpc_ids"] = sorted({acl["VpcId"] for acl in acls})
        subnets = {a["SubnetId"] for acl in acls for a in acl.get("Associations", [])}
        plan = StepPlan(local_change=True, notes=[
            f"{len(acls)} network ACL(s) guarding {len(subnets)} subnet(s) of {scope}"])
        others = sorted(subnets - set(self.subnets)) if self.subnets else []
        if others:
            plan.warnings.append(f"The network ACL(s) of {scope} also guard subnet(s) "
                                 f"{', '.join(others)}: a block applies there too.")
        return plan


def _address(ctx: RunContext) -> Address:
    address: Address = ctx.facts["address"]
    return address


@register
class BlockIp(Step):
    """Deny one address in and out in every network ACL of the scope, with an expiry."""

    name = "block-ip"
    runbook_targets = ("ip",)
    title = "Block the address in network ACLs"
    permissions = ("ec2:DescribeNetworkAcls", "ec2:DescribeVpcs", "ec2:CreateNetworkAclEntry",
                   "ec2:CreateTags", "ec2:DeleteTags")
    undo_permissions = ("ec2:DeleteNetworkAclEntry", "ec2:DeleteTags")
    critical = True
    validates_input = True  # a refused address or a full rule range stops before any change

    def __init__(self, hours: int = 24, force: bool = False) -> None:
        """hours: how long the block lasts (1 to 8760); `ircli block-ip --expire` lifts it
        force: also block a private address or one of the VPC's own ranges
        """
        if not 1 <= hours <= MAX_HOURS:
            raise InvalidInput(f"hours must be between 1 and {MAX_HOURS}, not {hours}.",
                               "Give the block a lifetime in whole hours (24 is a day).")
        self.hours = hours
        self.force = force

    def compile(self, cc: CompileContext) -> Fragment | None:
        """Deny, wait ``hours``, lift exactly that entry (see :mod:`ircli.steps.asl_nacl`)."""
        from ircli.steps import asl_nacl
        if self.force:
            raise NotCompilable(self.name, "force (blocking a private address) is for a "
                                "responder to decide, not an automation")
        return asl_nacl.block_ip(cc.prefix, self.hours * 3600,
                                 (*self.permissions, *self.undo_permissions))

    def plan(self, ctx: RunContext) -> StepPlan:
        assert ctx.case is not None
        address = _address(ctx)
        plan = StepPlan()
        self._refuse_or_warn(ctx, address, plan)
        expires = ctx.clock.now() + timedelta(hours=self.hours)
        blocks: list[Block] = []
        created: list[Block] = []
        before: dict[str, Any] = {}
        for acl in (a for a in ctx.facts["network_acls"] if a.get("Associations")):
            acl_id = acl["NetworkAclId"]
            found, bad = blocks_of(acl)
            plan.warnings += bad
            mine = [b for b in found if b.address == str(address)]
            before[acl_id] = [b.to_dict() for b in mine]
            current = next((b for b in mine if _both_entries(acl, b, address)), None)
            for stale in (b for b in mine if b is not current):
                plan.calls.append(_delete_tag(stale, f"{acl_id}: drop the stale record of rule "
                                                     f"{stale.rule_number} (its entries are gone)"))
            if current is not None and current.expires_at >= expires:
                plan.notes.append(f"{acl_id}: already blocked (rule {current.rule_number}) until "
                                  f"{expiry_text(current.expires_at)}")
                blocks.append(current)
                continue
            if current is not None:
                block = Block(acl_id, current.rule_number, str(address), expires, ctx.case.case_id)
                plan.calls.append(_tag(block, f"{acl_id}: extend the block (rule "
                                              f"{block.rule_number}) until "
                                              f"{expiry_text(expires)}"))
                blocks.append(block)
                continue
            rule = free_rule(acl)
            if rule is None:
                raise UserError(f"Network ACL {acl_id} has no free rule number in ircli's range "
                                f"{RULE_MIN}-{RULE_MAX}.",
                                "Lift blocks that are no longer needed (`ircli unblock-ip IP`, "
                                "`ircli block-ip --expire`), then run this again.")
            block = Block(acl_id, rule, str(address), expires, ctx.case.case_id)
            plan.calls += [_tag(block, f"{acl_id}: record the block (rule {rule}) and its expiry "
                                       f"{expiry_text(expires)}"),
                           *(_entry(acl_id, rule, address, egress) for egress in (False, True))]
            plan.warnings += earlier_allows(acl, address, rule)
            blocks.append(block)
            created.append(block)
        plan.before = {"network_acls": before}
        # Every block this case ever made, written before the entries are: the proof
        # `--expire` asks for (a tag alone proves nothing).
        made = list(ctx.record["steps"].get(self.name, {}).get("data", {}).get("made", []))
        made += [b.to_dict() for b in created if _key(b.to_dict()) not in map(_key, made)]
        plan.data = {"blocks": [b.to_dict() for b in blocks], "made": made}
        ctx.facts["blocks"] = plan.data["blocks"]
        return plan

    def _refuse_or_warn(self, ctx: RunContext, address: Address, plan: StepPlan) -> None:
        reason = private_reason(address)
        if reason is None:
            own = next((n for n in vpc_ranges(ctx.aws, ctx.facts["vpc_ids"])
                        if n.version == address.version and address in n), None)
            reason = f"it is in the VPC's own range {own}" if own else None
        if reason is None:
            return
        if not self.force:
            raise UserError(f"Refusing to block {address}: {reason}.",
                            "Blocking it can cut the VPC off from its own network; pass --force "
                            "(force: true in a runbook) if that is what you mean.")
        plan.warnings.append(f"RISK (--force): blocking {address} although {reason}.")

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        """Lift the blocks this case made (entries still denying its address, and their tags)."""
        acls = {acl["NetworkAclId"]: acl for acl in ctx.facts.get("network_acls", [])}
        plan = StepPlan()
        for item in record.get("data", {}).get("blocks", []):
            acl = acls.get(item["network_acl_id"])
            if acl is None:
                continue
            for block in blocks_of(acl)[0]:
                if block.rule_number == item["rule_number"] and block.address == item["address"]:
                    removal(plan, acl, block)
        return plan


@register
class UnblockIp(Step):
    """Lift ircli's blocks of one address now (entries and their expiry tags)."""

    name = "unblock-ip"
    title = "Lift the address's blocks"
    permissions = ("ec2:DescribeNetworkAcls", "ec2:DeleteNetworkAclEntry", "ec2:DeleteTags")

    def plan(self, ctx: RunContext) -> StepPlan:
        address = _address(ctx)
        plan = StepPlan()
        lifted = []
        for acl in ctx.facts["network_acls"]:
            found, bad = blocks_of(acl)
            plan.warnings += bad
            for block in (b for b in found if b.address == str(address)):
                removal(plan, acl, block)
                lifted.append(block.to_dict())
            ircli_rules = {b.rule_number for b in found}
            for entry in acl.get("Entries", []):
                if denies_exactly(entry, address) and entry["RuleNumber"] not in ircli_rules:
                    plan.notes.append(f"{acl['NetworkAclId']}: rule {entry['RuleNumber']} also "
                                      f"denies {address}; not ircli's, left alone")
        if not lifted:
            plan.notes.insert(0, f"no ircli block of {address} in these network ACLs")
        plan.data = {"lifted": lifted}
        ctx.facts["lifted"] = lifted
        return plan


@register
class ExpireBlocks(Step):
    """Lift every ircli block whose expiry has passed; safe to run from a scheduler."""

    name = "expire-blocks"
    title = "Lift expired blocks"
    permissions = ("ec2:DescribeNetworkAcls", "ec2:DeleteNetworkAclEntry", "ec2:DeleteTags")

    def plan(self, ctx: RunContext) -> StepPlan:
        now = ctx.clock.now()
        plan = StepPlan()
        lifted, active = [], []
        for acl in ctx.facts["network_acls"]:
            found, bad = blocks_of(acl)
            plan.warnings += bad
            for block in found:
                if block.expires_at > now:
                    active.append(block.to_dict())
                elif not recorded_by_case(block):
                    plan.warnings.append(
                        f"{acl['NetworkAclId']}: rule {block.rule_number} is tagged as a block "
                        f"of case {block.case_id!r}, but no case on this machine records "
                        "creating it: left alone (a tag is not proof; run --expire where the "
                        "case lives, or lift it with `ircli unblock-ip`).")
                else:
                    removal(plan, acl, block)
                    lifted.append(block.to_dict())
        plan.notes.append(f"{len(lifted)} expired, {len(active)} still active")
        plan.data = {"lifted": lifted}
        ctx.facts["lifted"], ctx.facts["active"] = lifted, active
        return plan


def recorded_by_case(block: Block) -> bool:
    """True when the case the tag names is on this machine and records making this block.

    Anyone who may tag an ACL can write ``ircli:block:N`` on someone else's entry; only the
    case's own record proves ircli made it.
    """
    try:
        case = open_case(check_case_id(block.case_id), datetime.now(timezone.utc), create=False)
    except UserError:
        return False
    target = case.data.get("targets", {}).get(f"ip/{block.address}", {})
    records = [target, *target.get("history", [])]
    made = [b for r in records for b in r.get("steps", {}).get("block-ip", {}).get(
        "data", {}).get("made", [])]
    return _key(block.to_dict()) in map(_key, made)


def _key(block: dict[str, Any]) -> tuple[Any, ...]:
    return block.get("network_acl_id"), block.get("rule_number"), block.get("address")


def removal(plan: StepPlan, acl: dict[str, Any], block: Block) -> None:
    """Delete the block's entries (only where they still deny its address), then its tag."""
    address = parse_address(block.address)
    acl_id = acl["NetworkAclId"]
    for entry in entries_for(acl, block.rule_number):
        way = "outbound" if entry["Egress"] else "inbound"
        if not denies_exactly(entry, address):
            plan.warnings.append(f"{acl_id}: {way} rule {block.rule_number} no longer denies "
                                 f"{address} (someone changed it); left alone")
            continue
        plan.calls.append(Call("ec2", "delete_network_acl_entry", {
            "NetworkAclId": acl_id, "RuleNumber": block.rule_number, "Egress": entry["Egress"]},
            f"{acl_id}: remove the {way} deny of {cidr(address)} (rule {block.rule_number})"))
    plan.calls.append(_delete_tag(block, f"{acl_id}: drop the record of rule "
                                         f"{block.rule_number}"))


def _both_entries(acl: dict[str, Any], block: Block, address: Address) -> bool:
    entries = [e for e in entries_for(acl, block.rule_number) if denies_exactly(e, address)]
    return {bool(e["Egress"]) for e in entries} == {False, True}


def _entry(acl_id: str, rule: int, address: Address, egress: bool) -> Call:
    # Not proved in a dry-run: the emulator ignores DryRun here and would create the entry.
    way = "outbound" if egress else "inbound"
    return Call("ec2", "create_network_acl_entry", {
        "NetworkAclId": acl_id, "RuleNumber": rule, "Protocol": "-1", "RuleAction": "deny",
        "Egress": egress, **cidr_param(address)},
        f"{acl_id}: deny all {way} traffic {'to' if egress else 'from'} {cidr(address)} "
        f"(rule {rule})")


def _tag(block: Block, summary: str) -> Call:
    return Call("ec2", "create_tags", {"Resources": [block.network_acl_id], "Tags": [
        {"Key": block.tag_key, "Value": block.tag_value()}]}, summary, dry_run=True)


def _delete_tag(block: Block, summary: str) -> Call:
    return Call("ec2", "delete_tags", {"Resources": [block.network_acl_id],
                                       "Tags": [{"Key": block.tag_key}]}, summary, dry_run=True)
