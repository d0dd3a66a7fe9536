"""The groups isolation moves ENIs into: chosen, made exact and visible before any ENI moves.

Each VPC gets a transition group (allow-all both ways: flows become untracked) and an
isolation group, under deterministic names, reused when present. A group is trusted only
when ircli made it (its tag) and it holds exactly ircli's rules; a drifted ircli group is
repaired, a look-alike is skipped for the next name. A fleet run prepares each VPC's groups
once (:func:`prepare_groups`) before fanning out, so the instances' own isolate steps find
them ready instead of racing to create them.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions
from tenacity import (
    Retrying,
    retry_if_exception,
    retry_if_result,
    wait_exponential,
)

from ircli.core.awserrors import error_code
from ircli.core.engine import RunContext, stop_after_clock
from ircli.core.errors import StepFailed
from ircli.core.step import Call, Ref, StepPlan, resolve_refs
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


def isolation_spec(ctx: RunContext, plan: StepPlan, vpc: str, ssm_egress: SsmEgress,
                   analyst_sg: str | None) -> GroupSpec:
    """No traffic in but the analyst's group; out only what live response needs."""
    ingress = [{"IpProtocol": "-1", "UserIdGroupPairs": [
        {"GroupId": analyst_sg, "Description": "ircli analyst access"}]}] \
        if analyst_sg else []
    return GroupSpec(isolation_group_name(ssm_egress, analyst_sg),
                     "ircli isolation: no traffic but what ircli allows",
                     ingress=ingress, egress=egress_rules(ctx, plan, vpc, ssm_egress))


@dataclass
class GroupChoice:
    """Per VPC: the transition and isolation group (an id, or a Ref to one being created),
    the isolation group's name, and the (group, spec) pairs to check before moving ENIs."""

    transition: dict[str, str | Ref] = field(default_factory=dict)
    isolation: dict[str, str | Ref] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    checks: list[tuple[Any, GroupSpec]] = field(default_factory=list)


def plan_groups(ctx: RunContext, plan: StepPlan, vpcs: list[str], ssm_egress: SsmEgress,
                analyst_sg: str | None) -> GroupChoice:
    """Choose each VPC's two groups; the calls to create or repair them go into ``plan``."""
    iso_name = isolation_group_name(ssm_egress, analyst_sg)
    names = sorted({*transition_spec().candidates(), *GroupSpec(iso_name, "").candidates()})
    # The existing groups and the rules they must hold are read at the same time.
    with ThreadPoolExecutor(max_workers=1 + len(vpcs)) as pool:
        found = pool.submit(find_groups, ctx, vpcs, names)
        wanted = {vpc: pool.submit(isolation_spec, ctx, plan, vpc, ssm_egress, analyst_sg)
                  for vpc in vpcs}
        specs = {vpc: (transition_spec(), wanted[vpc].result()) for vpc in vpcs}
        existing = found.result()
    choice = GroupChoice()
    for vpc in vpcs:
        choice.transition[vpc] = choose_group(plan, vpc, specs[vpc][0], existing, choice.checks)
        choice.isolation[vpc] = choose_group(plan, vpc, specs[vpc][1], existing, choice.checks)
        choice.names[vpc] = specs[vpc][1].name
    return choice


def apply_groups(ctx: RunContext, calls: list[Call], checks: list[tuple[Any, GroupSpec]]
                 ) -> None:
    """Create or repair the groups, then wait until each is visible and exact."""
    for call in calls:
        _execute_group_call(ctx, call)
    if calls:
        settle_groups(ctx, checks)


def prepare_groups(ctx: RunContext, vpcs: list[str], ssm_egress: SsmEgress,
                   analyst_sg: str | None) -> tuple[dict[str, str], StepPlan]:
    """A fleet's prepare phase for one account and region: each VPC's groups made ready once,
    so that every instance's isolate step then finds them exact and creates nothing.

    Returns the isolation group per VPC and the plan that was applied (its calls and
    warnings, for the fleet's report). A dry-run context only plans.
    """
    plan = StepPlan()
    choice = plan_groups(ctx, plan, sorted(set(vpcs)), ssm_egress, analyst_sg)
    if not ctx.dry_run:
        apply_groups(ctx, list(plan.calls), choice.checks)
    groups = {vpc: str(resolve_refs(group, ctx.values)) for vpc, group in
              choice.isolation.items() if not ctx.dry_run or isinstance(group, str)}
    return groups, plan


def egress_rules(ctx: RunContext, plan: StepPlan, vpc: str, ssm_egress: SsmEgress
                 ) -> list[dict[str, Any]]:
    """Outbound rules of the isolation group for the chosen ``--ssm-egress`` mode."""
    if ssm_egress == "none":
        plan.warnings.append("--ssm-egress none: the isolated instance cannot reach SSM; "
                             "live response (ircli collect) will not work.")
        return []
    if ssm_egress == "any":
        plan.warnings.append("RISK (--ssm-egress any): the isolation group allows tcp/443 to "
                             "anywhere, so the instance can still reach the internet on 443.")
        return [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                 "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ircli live response"}],
                 "Ipv6Ranges": [{"CidrIpv6": "::/0", "Description": "ircli live response"}]}]
    groups, prefix_lists, services, open_s3 = endpoint_targets(ctx, vpc)
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
        retrying(ctx, call)
    except botocore.exceptions.ClientError as err:
        # Another responder created the same group a moment ago: use theirs (settle checks it).
        if error_code(err) != "InvalidGroup.Duplicate" or call.method != "create_security_group":
            raise
        vpc, name = call.params["VpcId"], call.params["GroupName"]
        found = find_groups(ctx, [vpc], [name])
        ctx.values[f"{vpc}/{name}"] = found[f"{vpc}/{name}"]["GroupId"]


def retrying(ctx: RunContext, call: Call) -> dict[str, Any]:
    """One call, retried a few times on eventual consistency and throttling."""
    def transient(err: BaseException) -> bool:
        return error_code(err) in _RETRY_CODES

    out_of_time = stop_after_clock(ctx, SETTLE_SECONDS)
    response: dict[str, Any] = Retrying(
        retry=retry_if_exception(transient),
        stop=lambda state: state.attempt_number >= MOVE_ATTEMPTS or out_of_time(state),
        wait=wait_exponential(0.2, max=4), sleep=ctx.clock.sleep, reraise=True)(ctx.execute, call)
    return response


def label(group: Any, name: str) -> str:
    return f"{name} ({group})" if isinstance(group, str) else name


def endpoint_targets(ctx: RunContext, vpc: str
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


def known(value: Any) -> str | None:
    return value if isinstance(value, str) else None
