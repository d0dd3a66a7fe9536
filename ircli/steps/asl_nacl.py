"""The Step Functions form of resolve-network and block-ip (the ssh-brute-force playbook).

The address is the finding's remote address; the ACL is the one guarding the attacked
instance's subnet. A block is the CLI's: deny entries in and out under one rule number of
ircli's range (50-99) and the ACL tag ``ircli:block:<rule>`` naming the address and the case.
The machine then waits (the runbook's hours; ``$.ircli.wait_seconds`` in the execution input
may shorten it) and lifts exactly that entry, unless a later finding for the same address took
the block over (the tag names that case): then the later execution lifts it when its own wait
ends. A second finding never adds a second entry.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ircli.aws.nacl import RULE_MAX, RULE_MIN, TAG_PREFIX
from ircli.core.asl import choice, end_pass, fail_with, first, map_state, pass_state, task
from ircli.core.step import NEXT, RECORD, Fragment

ADDRESS = "$.ircli.target"
VICTIM = "$.event.detail.resource.instanceDetails.instanceId"
PRIVATE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
           "169.254.0.0/16", "0.0.0.0/8")


def _s(p: str, path: str = "") -> str:
    return f"$.steps.{p}{'.' + path if path else ''}"


def private_patterns() -> list[str]:
    """StringMatches patterns covering the private IPv4 ranges (octet-aligned prefixes)."""
    patterns = []
    for text in PRIVATE:
        net = ipaddress.ip_network(text)
        octets = net.prefixlen // 8
        span = 2 ** (8 - net.prefixlen % 8) if net.prefixlen % 8 else 1
        base = str(net.network_address).split(".")
        for n in range(int(base[octets]), int(base[octets]) + span) if span > 1 else [None]:
            head = base[:octets] + ([str(n)] if n is not None else [])
            patterns.append(".".join(head) + ".*")
    return patterns


def resolve_network(p: str, permissions: tuple[Any, ...]) -> Fragment:
    states = {
        f"{p}.Victim": task("ec2", "describeInstances",
                            {"InstanceIds.$": f"States.Array({VICTIM})"},
                            result_selector={"i.$": first("$.Reservations[*].Instances[*]")},
                            result_path=_s(p, "v"), next_state=f"{p}.Acl"),
        f"{p}.Acl": task("ec2", "describeNetworkAcls", {"Filters": [
            {"Name": "association.subnet-id",
             "Values.$": f"States.Array({_s(p, 'v.i.SubnetId')})"}]},
            result_selector={"a.$": first("$.NetworkAcls[*]")}, result_path=_s(p, "acl"),
            next_state=f"{p}.Private"),
        # The address comes from the finding: never a reason to cut the VPC off from itself.
        f"{p}.Private": choice([{"Or": [{"Variable": ADDRESS, "StringMatches": pattern}
                                        for pattern in private_patterns()],
                                 "Next": f"{p}.Refused"}], NEXT),
        f"{p}.Refused": fail_with("ircli.PrivateAddress",
                                  "The finding's remote address is private: not blocked (it can "
                                  "cut the VPC off from its own network). Use `ircli block-ip "
                                  "--force` if that is what you mean."),
    }
    return Fragment(states, start=f"{p}.Victim", permissions=permissions)


def block_ip(p: str, seconds: int, permissions: tuple[Any, ...]) -> Fragment:
    acl = "$.steps.resolve_network.acl.a"
    key = _s(p, "me.key")
    def entry_match(tag: str) -> dict[str, dict[str, Any]]:
        """One Map iteration: the entry's rule number when it is an ircli deny of ours."""
        return {
            f"{p}.{tag}.Mine": choice([{"And": [
                {"Variable": "$.e.RuleAction", "StringEquals": "deny"},
                {"Variable": "$.e.CidrBlock", "IsPresent": True},
                {"Variable": "$.e.CidrBlock", "StringEqualsPath": "$.cidr"},
                {"Variable": "$.e.RuleNumber", "NumericGreaterThanEquals": RULE_MIN},
                {"Variable": "$.e.RuleNumber", "NumericLessThanEquals": RULE_MAX}],
                "Next": f"{p}.{tag}.Yes"}], f"{p}.{tag}.No"),
            f"{p}.{tag}.Yes": end_pass({"r.$": "States.Array($.e.RuleNumber)"}),
            f"{p}.{tag}.No": end_pass({"r": []}),
        }

    tag_owner = {
        f"{p}.T.Key": choice([{"Variable": "$.t.Key", "StringEqualsPath": "$.key",
                               "Next": f"{p}.T.Yes"}], f"{p}.T.No"),
        f"{p}.T.Yes": end_pass({"case.$": "States.Array(States.ArrayGetItem("
                                          "States.StringSplit($.t.Value, '|'), 2))"}),
        f"{p}.T.No": end_pass({"case": []}),
    }

    def entries(tag: str, source: str, result: str, next_state: str) -> dict[str, Any]:
        return map_state(source, {"e.$": "$$.Map.Item.Value", "cidr.$": _s(p, "me.cidr")},
                         entry_match(tag), f"{p}.{tag}.Mine", result_path=result,
                         next_state=next_state, concurrency=0)

    def deny(egress: bool, next_state: str) -> dict[str, Any]:
        return task("ec2", "createNetworkAclEntry", {
            "NetworkAclId.$": f"{acl}.NetworkAclId", "RuleNumber.$": _s(p, "rule.n"),
            "Protocol": "-1", "RuleAction": "deny", "Egress": egress,
            "CidrBlock.$": _s(p, "me.cidr")}, next_state=next_state)

    def lift(egress: bool, next_state: str) -> dict[str, Any]:
        return task("ec2", "deleteNetworkAclEntry", {
            "NetworkAclId.$": f"{acl}.NetworkAclId", "RuleNumber.$": _s(p, "rule.n"),
            "Egress": egress}, next_state=next_state)

    states = {
        f"{p}.Me": pass_state({"cidr.$": f"States.Format('{{}}/32', {ADDRESS})",
                               "value.$": f"States.Format('{{}}|lifted-by-automation|{{}}', "
                                          f"{ADDRESS}, $.ircli.case_id)"}, _s(p, "me"),
                              f"{p}.Existing"),
        f"{p}.Existing": entries("E", f"{acl}.Entries", _s(p, "found"),
                                 f"{p}.Rules"),
        f"{p}.Rules": pass_state({"mine.$": _s(p, "found[*].r[*]"),
                                  "n.$": f"States.ArrayLength({_s(p, 'found[*].r[*]')})",
                                  "used.$": f"{acl}.Entries[*].RuleNumber",
                                  "range.$": f"States.ArrayRange({RULE_MIN}, {RULE_MAX}, 1)"},
                                 _s(p, "rules"),
                                 f"{p}.Blocked"),
        f"{p}.Blocked": choice([{"Variable": _s(p, "rules.n"), "NumericGreaterThan": 0,
                                 "Next": f"{p}.Adopt"}], f"{p}.Free"),
        # Another finding blocked this address already: take the block over, add nothing.
        f"{p}.Adopt": pass_state({"n.$": f"States.ArrayGetItem({_s(p, 'rules.mine')}, 0)",
                                  "made": False}, _s(p, "rule"), f"{p}.Key"),
        f"{p}.Free": map_state(_s(p, "rules.range"), {
            "n.$": "$$.Map.Item.Value",
            "used.$": f"States.ArrayContains({_s(p, 'rules.used')}, $$.Map.Item.Value)"}, {
            f"{p}.F.Used": choice([{"Variable": "$.used", "BooleanEquals": True,
                                    "Next": f"{p}.F.No"}], f"{p}.F.Yes"),
            f"{p}.F.Yes": end_pass({"n.$": "States.Array($.n)"}),
            f"{p}.F.No": end_pass({"n": []})},
            f"{p}.F.Used", result_path=_s(p, "free"), next_state=f"{p}.AnyFree",
            concurrency=0),
        f"{p}.AnyFree": pass_state({"n.$": f"States.ArrayLength({_s(p, 'free[*].n[*]')})"},
                                   _s(p, "freen"), f"{p}.FreeOne"),
        f"{p}.FreeOne": choice([{"Variable": _s(p, "freen.n"), "NumericEquals": 0,
                                 "Next": f"{p}.Full"}], f"{p}.Pick"),
        f"{p}.Full": fail_with("ircli.NoFreeRule", f"The network ACL has no free rule number "
                               f"in ircli's range {RULE_MIN}-{RULE_MAX}: nothing blocked."),
        f"{p}.Pick": pass_state({"n.$": f"States.ArrayGetItem({_s(p, 'free[*].n[*]')}, 0)",
                                 "made": True}, _s(p, "rule"), f"{p}.Key"),
        f"{p}.Key": pass_state({"key.$": f"States.Format('{TAG_PREFIX}{{}}', {_s(p, 'rule.n')})",
                                "cidr.$": _s(p, "me.cidr"), "value.$": _s(p, "me.value")},
                               _s(p, "me"), f"{p}.Before"),
        f"{p}.Before": pass_state({"network_acls.$": "States.StringToJson(States.Format("
                                   f"'{{}}\"{{}}\":[]{{}}', $.c.lb, {acl}.NetworkAclId, "
                                   "$.c.rb))", "rule.$": _s(p, "rule"),
                                   "address.$": ADDRESS}, _s(p, "before"), RECORD),
        # The tag first, so no ircli entry ever lacks its record (as the CLI does).
        f"{p}.Tag": task("ec2", "createTags", {
            "Resources.$": f"States.Array({acl}.NetworkAclId)",
            "Tags": [{"Key.$": key, "Value.$": _s(p, "me.value")}]}, next_state=f"{p}.Made"),
        f"{p}.Made": choice([{"Variable": _s(p, "rule.made"), "BooleanEquals": True,
                              "Next": f"{p}.DenyIn"}], f"{p}.Seconds"),
        f"{p}.DenyIn": deny(False, f"{p}.DenyOut"),
        f"{p}.DenyOut": deny(True, f"{p}.Seconds"),
        f"{p}.Seconds": choice([{"Variable": "$.event.ircli.wait_seconds", "IsPresent": True,
                                 "Next": f"{p}.Shorter"}], f"{p}.Hours"),
        f"{p}.Shorter": {"Type": "Pass", "InputPath": "$.event.ircli.wait_seconds",
                         "ResultPath": _s(p, "wait"), "Next": f"{p}.Wait"},
        f"{p}.Hours": {"Type": "Pass", "Result": seconds, "ResultPath": _s(p, "wait"),
                       "Next": f"{p}.Wait"},
        f"{p}.Wait": {"Type": "Wait", "SecondsPath": _s(p, "wait"), "Next": f"{p}.Again"},
        f"{p}.Again": task("ec2", "describeNetworkAcls", {
            "NetworkAclIds.$": f"States.Array({acl}.NetworkAclId)"},
            result_selector={"a.$": first("$.NetworkAcls[*]")}, result_path=_s(p, "now"),
            next_state=f"{p}.Owner"),
        f"{p}.Owner": map_state(_s(p, "now.a.Tags"), {"t.$": "$$.Map.Item.Value",
                                                      "key.$": key}, tag_owner, f"{p}.T.Key",
                                result_path=_s(p, "owner"), next_state=f"{p}.Ours",
                                concurrency=0),
        f"{p}.Ours": pass_state({"ours.$": f"States.ArrayContains({_s(p, 'owner[*].case[*]')}, "
                                           "$.ircli.case_id)"}, _s(p, "mine"), f"{p}.Lift"),
        # Taken over by a later finding's execution: that one lifts it when its wait ends.
        f"{p}.Lift": choice([{"Variable": _s(p, "mine.ours"), "BooleanEquals": True,
                              "Next": f"{p}.Still"}], NEXT),
        f"{p}.Still": entries("S", _s(p, "now.a.Entries"), _s(p, "left"),
                              f"{p}.StillOurs"),
        f"{p}.StillOurs": pass_state({"ours.$": f"States.ArrayContains({_s(p, 'left[*].r[*]')}, "
                                                f"{_s(p, 'rule.n')})"}, _s(p, "still"),
                                     f"{p}.LiftAny"),
        f"{p}.LiftAny": choice([{"Variable": _s(p, "still.ours"), "BooleanEquals": True,
                                 "Next": f"{p}.LiftIn"}], f"{p}.Untag"),
        f"{p}.LiftIn": lift(False, f"{p}.LiftOut"),
        f"{p}.LiftOut": lift(True, f"{p}.Untag"),
        f"{p}.Untag": task("ec2", "deleteTags", {
            "Resources.$": f"States.Array({acl}.NetworkAclId)", "Tags": [{"Key.$": key}]},
            next_state=NEXT),
    }
    return Fragment(states, start=f"{p}.Me", permissions=permissions, record_at=f"{p}.Tag",
                    before=_s(p, "before"))
