"""Network isolation: every ENI to an allow-all group, then to the isolation group.

The two-step matters: changing groups does not cut connections that are already tracked
(idle TCP stays tracked for five days), but flows allowed by an all-traffic 0.0.0.0/0 rule both
ways are untracked, and untracked flows stop the moment the isolation group replaces it.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import botocore.exceptions
from tenacity import (
    Retrying,
    retry_if_exception,
    retry_if_result,
    wait_exponential,
)

from ircli.aws.ec2 import enis
from ircli.core.awserrors import describe, error_code
from ircli.core.engine import RunContext, stop_after_clock
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
from ircli.steps.group_rules import (
    DEFAULT_EGRESS,
    GroupSpec,
    converge,
    current_atoms,
    differences,
    is_managed,
)
from ircli.steps.names import (
    TAG_MANAGED,
    TRANSITION_GROUP,
    SsmEgress,
    isolation_group_name,
)

_SSM_SERVICES = ("ssm", "ssmmessages", "ec2messages")
_ALL_TRAFFIC = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                 "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]
_MOVE = "modify_network_interface_attribute"
# A new group is not visible everywhere at once; the API throttles a fleet's containment.
_RETRY_CODES = ("InvalidGroup.NotFound", "InvalidNetworkInterfaceID.NotFound", "Throttling",
                "ThrottlingException", "RequestLimitExceeded")
MOVE_ATTEMPTS = 5
SETTLE_SECONDS = 20.0


def transition_spec() -> GroupSpec:
    """Allow-all both ways, IPv4 and IPv6: only then are the ENI's flows untracked."""
    return GroupSpec(TRANSITION_GROUP,
                     "ircli transition: allow all, so existing flows become untracked",
                     ingress=_ALL_TRAFFIC, egress=_ALL_TRAFFIC)


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
        from ircli.steps import asl_instance
        if self.analyst_sg or self.ssm_egress == "any":
            raise NotCompilable(self.name, "analyst_sg and ssm_egress 'any' have no compiled "
                                "form yet (the isolation group's rules would differ)")
        return asl_instance.isolate(cc.prefix, isolation_group_name(self.ssm_egress, None),
                                     self.ssm_egress, self.permissions)

    def plan(self, ctx: RunContext) -> StepPlan:
        instance = ctx.facts["instance"]
        interfaces = enis(instance)
        vpcs = sorted({eni["VpcId"] for eni in interfaces})
        plan = StepPlan(before={"network_interfaces": [
            {"id": eni["NetworkInterfaceId"], "groups": [g["GroupId"] for g in eni["Groups"]],
             "group_names": [g.get("GroupName") for g in eni["Groups"]]}
            for eni in interfaces]})
        iso_name = isolation_group_name(self.ssm_egress, self.analyst_sg)
        names = sorted({*transition_spec().candidates(),
                        *GroupSpec(iso_name, "").candidates()})
        # The existing groups and the rules they must hold are read at the same time.
        with ThreadPoolExecutor(max_workers=1 + len(vpcs)) as pool:
            found = pool.submit(find_groups, ctx, vpcs, names)
            wanted = {vpc: pool.submit(self.isolation_spec, ctx, plan, vpc) for vpc in vpcs}
            specs = {vpc: (transition_spec(), wanted[vpc].result()) for vpc in vpcs}
            existing = found.result()
        trans: dict[str, Any] = {}
        iso: dict[str, Any] = {}
        checks: list[tuple[Any, GroupSpec]] = []
        for vpc in vpcs:
            trans[vpc] = choose_group(plan, vpc, specs[vpc][0], existing, checks)
            iso[vpc] = choose_group(plan, vpc, specs[vpc][1], existing, checks)
        pending = [eni for eni in interfaces
                   if [g["GroupId"] for g in eni["Groups"]] != [iso[eni["VpcId"]]]]
        iso_names = {vpc: specs[vpc][1].name for vpc in vpcs}
        for eni in pending:  # back to back per ENI: no ENI waits in allow-all for another
            vpc = eni["VpcId"]
            if [g["GroupId"] for g in eni["Groups"]] != [trans[vpc]]:
                plan.calls.append(_set_groups(eni["NetworkInterfaceId"], trans[vpc],
                                              "allow-all transition group (untracks flows)"))
            plan.calls.append(_set_groups(eni["NetworkInterfaceId"], iso[vpc],
                                          f"isolation group {_label(iso[vpc], iso_names[vpc])}"))
        if pending:
            plan.notes.append("an ENI that cannot be moved on to the isolation group is put "
                              "back on its recorded groups, never left in the transition group")
        else:
            plan.notes.append(f"all {len(interfaces)} ENI(s) already hold only the isolation "
                              "group")
        plan.pending.update(isolation_groups=iso, checks=checks)
        plan.data["isolation_groups"] = {vpc: _known(iso[vpc]) for vpc in vpcs}
        ctx.facts["isolation_groups"] = plan.data["isolation_groups"]
        return plan

    def merge_before(self, recorded: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        """An ENI attached after containment joins the record with its own groups; the ENIs
        recorded first keep their original groups."""
        known = {eni["id"] for eni in recorded.get("network_interfaces", [])}
        added = [eni for eni in new.get("network_interfaces", []) if eni["id"] not in known]
        return {**recorded, "network_interfaces": [*recorded.get("network_interfaces", []),
                                                   *added]}

    # -- groups --------------------------------------------------------------------------
    def isolation_spec(self, ctx: RunContext, plan: StepPlan, vpc: str) -> GroupSpec:
        ingress = [{"IpProtocol": "-1", "UserIdGroupPairs": [
            {"GroupId": self.analyst_sg, "Description": "ircli analyst access"}]}] \
            if self.analyst_sg else []
        return GroupSpec(isolation_group_name(self.ssm_egress, self.analyst_sg),
                         "ircli isolation: no traffic but what ircli allows",
                         ingress=ingress, egress=self._egress_rules(ctx, plan, vpc))

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
        groups, prefix_lists, services, open_s3 = _endpoint_targets(ctx, vpc)
        if open_s3:
            plan.warnings.append(
                f"The S3 gateway endpoint policy of {', '.join(open_s3)} lets anyone in VPC {vpc} "
                "reach any bucket, and the isolation group allows tcp/443 to S3 for live "
                "response: the instance can copy data to a bucket of the attacker's. Restrict "
                "the endpoint policy to your own buckets (aws:ResourceAccount or "
                "aws:ResourceOrgID).")
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
        moves = [c for c in plan.calls if c.method == _MOVE]
        group_calls = [c for c in plan.calls if c.method != _MOVE]
        for call in group_calls:
            _execute_group_call(ctx, call)
        if group_calls:
            settle_groups(ctx, plan.pending["checks"])
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
                    _retrying(ctx, call)
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
            _retrying(ctx, back)
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


def find_groups(ctx: RunContext, vpcs: list[str], names: list[str]) -> dict[str, dict[str, Any]]:
    """Groups of these VPCs with these names, by ``vpc/name``, in one paginated call."""
    pages = ctx.aws.client("ec2").get_paginator("describe_security_groups").paginate(
        Filters=[{"Name": "vpc-id", "Values": vpcs}, {"Name": "group-name", "Values": names}])
    return {f"{g['VpcId']}/{g['GroupName']}": g for page in pages for g in page["SecurityGroups"]}


def choose_group(plan: StepPlan, vpc: str, spec: GroupSpec, existing: dict[str, dict[str, Any]],
                 checks: list[tuple[Any, GroupSpec]]) -> str | Ref:
    """The group to use for ``spec`` in ``vpc``: an exact (or repaired) ircli group, or a new
    one under the first free deterministic name. Look-alikes are named in a warning."""
    skipped: list[str] = []
    for name in spec.candidates():
        named = GroupSpec(name, spec.description, spec.ingress, spec.egress)
        group = existing.get(f"{vpc}/{name}")
        if group is not None and not is_managed(group):
            skipped.append(f"{name} ({group['GroupId']})")
            continue
        if skipped:
            plan.warnings.append(
                f"Security group(s) {', '.join(skipped)} in {vpc} look like ircli's but were not "
                f"created by ircli (no {TAG_MANAGED} tag): not trusted, not used; ircli uses "
                f"{name} instead. Find out who created them (CloudTrail CreateSecurityGroup).")
        if group is None:
            ref = Ref(f"{vpc}/{name}")
            plan.calls.append(_create_group(vpc, name, ref, spec.description))
            # Assume only the IPv4 default: the IPv6 one (VPCs with IPv6) is revoked tolerantly.
            have = {a for a in DEFAULT_EGRESS if a[4] == "cidr"}
            plan.calls += converge(ref, name, have, spec.expected(), spec.labels())
            if ("egress", "-1", None, None, "cidr6", "::/0") not in spec.expected():
                plan.calls += converge(ref, name, set(DEFAULT_EGRESS) - have, set())
            checks.append((ref, named))
            return ref
        missing, extra = differences(group, named)
        if missing or extra:
            plan.warnings.append(
                f"ircli group {name} ({group['GroupId']}) in {vpc} does not hold exactly ircli's "
                f"rules ({len(extra)} extra, {len(missing)} missing): repaired before use.")
            plan.calls += converge(group["GroupId"], name, current_atoms(group), named.expected(),
                                   named.labels())
        checks.append((group["GroupId"], named))
        return str(group["GroupId"])
    raise StepFailed(f"Every ircli name for {spec.name} in {vpc} is taken by a group ircli did "
                     f"not create ({', '.join(skipped)}).",
                     "Delete those look-alike groups (after recording them as evidence), then "
                     "run the command again.")


def settle_groups(ctx: RunContext, checks: list[tuple[Any, GroupSpec]]) -> None:
    """Wait until every group is visible and holds exactly its rules; repair once if another
    party changed it meanwhile. Nothing moves before this holds."""
    ec2 = ctx.aws.client("ec2")
    wanted = [(str(resolve_refs(group, ctx.values)), spec) for group, spec in checks]

    def read() -> dict[str, dict[str, Any]] | None:
        try:
            found = ec2.describe_security_groups(GroupIds=[g for g, _ in wanted])
        except botocore.exceptions.ClientError as err:
            if error_code(err) == "InvalidGroup.NotFound":
                return None
            raise
        return {g["GroupId"]: g for g in found["SecurityGroups"]}

    def wrong(found: dict[str, dict[str, Any]] | None) -> list[tuple[str, GroupSpec]]:
        if found is None:
            return wanted
        return [(g, s) for g, s in wanted if g not in found or not is_managed(found[g])
                or any(differences(found[g], s))]

    found = Retrying(retry=retry_if_result(lambda f: bool(wrong(f))),
                     wait=wait_exponential(0.25, max=4), stop=stop_after_clock(ctx, SETTLE_SECONDS),
                     sleep=ctx.clock.sleep, retry_error_callback=lambda s: s.outcome.result()
                     if s.outcome else None)(read)
    current = found or {}
    for group_id, spec in wrong(found):
        if group_id in current and is_managed(current[group_id]):
            for call in converge(group_id, spec.name, current_atoms(current[group_id]),
                                 spec.expected(), spec.labels()):
                ctx.execute(call)
    bad = wrong(read())
    if bad:
        raise StepFailed(
            f"Security group(s) {', '.join(f'{s.name} ({g})' for g, s in bad)} are not visible or "
            "do not hold exactly ircli's rules, so no ENI was moved.",
            "Someone may be changing them right now: look in CloudTrail, then run the command "
            "again.")


def _execute_group_call(ctx: RunContext, call: Call) -> None:
    try:
        _retrying(ctx, call)
    except botocore.exceptions.ClientError as err:
        # Another responder created the same group a moment ago: use theirs (settle checks it).
        if error_code(err) != "InvalidGroup.Duplicate" or call.method != "create_security_group":
            raise
        vpc, name = call.params["VpcId"], call.params["GroupName"]
        found = find_groups(ctx, [vpc], [name])
        ctx.values[f"{vpc}/{name}"] = found[f"{vpc}/{name}"]["GroupId"]


def _retrying(ctx: RunContext, call: Call) -> dict[str, Any]:
    """One call, retried a few times on eventual consistency and throttling."""
    def transient(err: BaseException) -> bool:
        return error_code(err) in _RETRY_CODES

    out_of_time = stop_after_clock(ctx, SETTLE_SECONDS)
    response: dict[str, Any] = Retrying(
        retry=retry_if_exception(transient),
        stop=lambda state: state.attempt_number >= MOVE_ATTEMPTS or out_of_time(state),
        wait=wait_exponential(0.2, max=4), sleep=ctx.clock.sleep, reraise=True)(ctx.execute, call)
    return response


def _label(group: Any, name: str) -> str:
    return f"{name} ({group})" if isinstance(group, str) else name


def _endpoint_targets(ctx: RunContext, vpc: str
                      ) -> tuple[set[str], set[str], set[str], list[str]]:
    """Security groups of the SSM/S3 interface endpoints, the S3 gateway's prefix lists, the
    endpoint services found, and the S3 gateway endpoints whose policy opens every bucket."""
    ec2 = ctx.aws.client("ec2")
    groups: set[str] = set()
    services: set[str] = set()
    gateway_names: list[str] = []
    open_s3: list[str] = []
    pages = ec2.get_paginator("describe_vpc_endpoints").paginate(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    endpoints = [e for page in pages for e in page["VpcEndpoints"]]
    ctx.facts.setdefault("vpc_endpoints", {})[vpc] = endpoints  # cut-tracked-paths reads them
    for endpoint in endpoints:
        if endpoint.get("State", "available").lower() not in ("available", "pending"):
            continue
        service = endpoint["ServiceName"].rsplit(".", 1)[-1]
        if endpoint.get("VpcEndpointType") == "Gateway":
            if service == "s3":
                gateway_names.append(endpoint["ServiceName"])
                if opens_every_bucket(endpoint.get("PolicyDocument")):
                    open_s3.append(endpoint["VpcEndpointId"])
        elif service in (*_SSM_SERVICES, "s3"):
            services.add(service)
            groups.update(g["GroupId"] for g in endpoint.get("Groups", []))
    prefix_lists: set[str] = set()
    if gateway_names:
        pages = ec2.get_paginator("describe_managed_prefix_lists").paginate(
            Filters=[{"Name": "prefix-list-name", "Values": gateway_names}])
        prefix_lists = {p["PrefixListId"] for page in pages for p in page["PrefixLists"]}
    return groups, prefix_lists, services, open_s3


def opens_every_bucket(document: Any) -> bool:
    """True for an endpoint policy that allows any principal S3 on any resource, without a
    condition (AWS's default "full access" policy among them)."""
    try:
        policy = json.loads(document) if isinstance(document, str) else document or {}
    except ValueError:
        return False
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    for st in statements if isinstance(statements, list) else [statements]:
        if not isinstance(st, dict) or st.get("Effect") != "Allow" or st.get("Condition"):
            continue
        principal = st.get("Principal", "*")
        principals = principal.get("AWS", []) if isinstance(principal, dict) else principal
        actions = st.get("Action", [])
        resources = st.get("Resource", [])
        if "*" in _listed(principals) and any(a in ("*", "s3:*") or a.startswith("s3:Put")
                                              for a in _listed(actions)) and \
                any(r in ("*", "arn:aws:s3:::*") or r.endswith(":s3:::*")
                    for r in _listed(resources)):
            return True
    return False


def _listed(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


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

    def compile(self, cc: CompileContext) -> Fragment | None:
        from ircli.steps import asl_instance
        return asl_instance.disassociate_eips(cc.prefix, self.permissions)

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
