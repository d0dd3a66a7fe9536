"""block-ip / unblock-ip / --expire against the emulator: the entries, the tags, the clock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ircli.aws.nacl import parse_address, private_reason
from ircli.core.audit import verify_chain
from tests.fakes import FakeClock
from tests.helpers import ircli
from tests.runbooks.conftest import Network, block_tags, entries

ATTACKER = "198.51.100.7"


def test_block_adds_deny_entries_in_ircli_range_without_clobbering(
        capsys, clients, network: Network, cli_clock: FakeClock) -> None:
    ec2 = clients("ec2")
    before = {acl: entries(ec2, acl) for acl in (network.default_acl, network.custom_acl)}
    result = ircli(capsys, "block-ip", ATTACKER, "--vpc", network.vpc, "--yes",
                   "--case-id", "case-ssh")
    assert result.code == 0, result.err
    cidr = f"{ATTACKER}/32"
    ours = {network.default_acl: 50, network.custom_acl: 52}  # 50 and 51 are taken there
    for acl, rule in ours.items():
        added = entries(ec2, acl) - before[acl]
        assert added == {(rule, False, "deny", cidr), (rule, True, "deny", cidr)}
        assert before[acl] <= entries(ec2, acl)  # every earlier entry is still there
        assert block_tags(ec2, acl) == {
            f"ircli:block:{rule}": f"{ATTACKER}|2026-11-29T03:00:00Z|case-ssh"}
    data = result.data
    assert data["status"] == "blocked" and data["case_id"] == "case-ssh"
    assert {(b["network_acl_id"], b["rule_number"]) for b in data["blocks"]} == set(ours.items())
    assert any("inbound rule 10 allows 198.51.100.0/24 before ircli's deny at 52" in w
               for w in data["warnings"])
    case = json.loads((Path(data["case_dir"]) / "case.json").read_text())
    record = case["targets"][f"ip/{ATTACKER}"]
    assert record["status"] == "blocked" and record["kind"] == "ip-address"
    assert verify_chain(Path(data["case_dir"]) / "audit.jsonl") == []


def test_expire_lifts_only_blocks_past_their_expiry(capsys, clients, network: Network,
                                                    cli_clock: FakeClock) -> None:
    ec2 = clients("ec2")
    before = entries(ec2, network.custom_acl)
    default_before = entries(ec2, network.default_acl)
    assert ircli(capsys, "block-ip", ATTACKER, "--vpc", network.vpc, "--yes").code == 0
    cli_clock.advance(3600)
    later = "203.0.113.200"
    assert ircli(capsys, "block-ip", later, "--subnet", network.subnets[2], "--hours", "48",
                 "--yes").code == 0
    cli_clock.advance(23 * 3600 - 1)
    early = ircli(capsys, "block-ip", "--expire")
    assert early.code == 0 and early.data["lifted"] == []
    assert len(block_tags(ec2, network.custom_acl)) == 2
    cli_clock.advance(2)  # 24 h and a second after the first block
    expired = ircli(capsys, "block-ip", "--expire")
    assert expired.code == 0, expired.err
    assert {(b["address"], b["network_acl_id"]) for b in expired.data["lifted"]} == {
        (ATTACKER, network.default_acl), (ATTACKER, network.custom_acl)}
    assert [b["address"] for b in expired.data["active"]] == [later]
    assert entries(ec2, network.default_acl) == default_before
    assert entries(ec2, network.custom_acl) == before | {  # 52 was the first block's
        (53, False, "deny", f"{later}/32"), (53, True, "deny", f"{later}/32")}
    assert list(block_tags(ec2, network.custom_acl)) == ["ircli:block:53"]
    assert block_tags(ec2, network.default_acl) == {}
    again = ircli(capsys, "block-ip", "--expire")
    assert again.code == 0 and again.data["lifted"] == []


def test_expire_writes_the_lift_into_the_blocking_case(capsys, clients, network, cli_clock,
                                                        aws_env: Path) -> None:
    assert ircli(capsys, "block-ip", ATTACKER, "--subnet", network.subnets[0], "--yes",
                 "--case-id", "case-lift", "--hours", "1").code == 0
    cli_clock.advance(3601)
    assert ircli(capsys, "block-ip", "--expire").code == 0
    case_dir = aws_env / "cases" / "case-lift"
    lines = [json.loads(line) for line in (case_dir / "audit.jsonl").read_text().splitlines()]
    assert lines[-1]["event"] == "block-lifted" and lines[-1]["block"]["address"] == ATTACKER
    assert verify_chain(case_dir / "audit.jsonl") == []
    record = json.loads((case_dir / "case.json").read_text())["targets"][f"ip/{ATTACKER}"]
    assert record["lifted"][0]["by"] == "block-ip --expire"


def test_reblock_extends_the_expiry_without_new_entries(capsys, clients, network, cli_clock):
    ec2 = clients("ec2")
    assert ircli(capsys, "block-ip", ATTACKER, "--vpc", network.vpc, "--yes").code == 0
    after_first = entries(ec2, network.default_acl)
    cli_clock.advance(6 * 3600)
    second = ircli(capsys, "block-ip", ATTACKER, "--vpc", network.vpc, "--yes")
    assert second.code == 0, second.err
    assert entries(ec2, network.default_acl) == after_first
    [value] = block_tags(ec2, network.default_acl).values()
    assert value.split("|")[1] == "2026-11-29T09:00:00Z"
    shorter = ircli(capsys, "block-ip", ATTACKER, "--vpc", network.vpc, "--hours", "1", "--yes")
    assert shorter.code == 0
    assert block_tags(ec2, network.default_acl) == {"ircli:block:50": value}  # never shortened


def test_ipv6_block_and_unblock(capsys, clients, network: Network, cli_clock) -> None:
    ec2 = clients("ec2")
    before = entries(ec2, network.custom_acl)
    default_before = entries(ec2, network.default_acl)
    address = "2001:db8:abcd::7"
    blocked = ircli(capsys, "block-ip", address, "--subnet", network.subnets[2], "--yes")
    assert blocked.code == 0, blocked.err
    assert entries(ec2, network.custom_acl) - before == {
        (52, False, "deny", f"{address}/128"), (52, True, "deny", f"{address}/128")}
    assert entries(ec2, network.default_acl) == default_before  # --subnet: only its ACL
    assert not any("also guard" in w for w in blocked.data["warnings"])  # it guards only c
    lifted = ircli(capsys, "unblock-ip", address, "--yes")
    assert lifted.code == 0, lifted.err
    assert [b["rule_number"] for b in lifted.data["lifted"]] == [52]
    assert entries(ec2, network.custom_acl) == before
    assert block_tags(ec2, network.custom_acl) == {}


def test_shared_acl_is_named_and_unassociated_acls_still_expire(capsys, clients, network,
                                                                cli_clock) -> None:
    ec2 = clients("ec2")
    shared = ircli(capsys, "block-ip", ATTACKER, "--subnet", network.subnets[0], "--yes")
    assert shared.code == 0
    assert any(f"also guard subnet(s) {network.subnets[1]}" in w
               for w in shared.data["warnings"])
    assert ircli(capsys, "block-ip", ATTACKER, "--subnet", network.subnets[2], "--yes").code == 0
    association = next(a["NetworkAclAssociationId"] for a in ec2.describe_network_acls(
        NetworkAclIds=[network.custom_acl])["NetworkAcls"][0]["Associations"])
    ec2.replace_network_acl_association(AssociationId=association,
                                        NetworkAclId=network.default_acl)  # custom: unused now
    cli_clock.advance(25 * 3600)
    expired = ircli(capsys, "block-ip", "--expire", "--vpc", network.vpc)
    assert {b["network_acl_id"] for b in expired.data["lifted"]} == {network.default_acl,
                                                                     network.custom_acl}
    assert block_tags(ec2, network.custom_acl) == {}


def test_unblock_leaves_entries_that_are_not_ircli_s(capsys, clients, network, cli_clock):
    ec2 = clients("ec2")
    ec2.create_network_acl_entry(NetworkAclId=network.default_acl, RuleNumber=7, Protocol="-1",
                                 RuleAction="deny", Egress=False, CidrBlock=f"{ATTACKER}/32")
    assert ircli(capsys, "block-ip", ATTACKER, "--vpc", network.vpc, "--yes").code == 0
    result = ircli(capsys, "unblock-ip", ATTACKER, "--vpc", network.vpc, "--yes")
    assert result.code == 0
    assert (7, False, "deny", f"{ATTACKER}/32") in entries(ec2, network.default_acl)
    assert not any(e[0] == 50 for e in entries(ec2, network.default_acl))
    assert any("rule 7 also denies" in s["detail"] for s in result.data["steps"])


@pytest.mark.parametrize(("address", "reason"), [
    ("10.30.1.5", "it is in the private range 10.0.0.0/8"),
    ("172.31.0.9", "it is in the private range 172.16.0.0/12"),
    ("192.168.1.1", "it is in the private range 192.168.0.0/16"),
    ("100.64.0.1", "it is in the private range 100.64.0.0/10"),
    ("127.0.0.1", "it is in the private range 127.0.0.0/8"),
    ("169.254.169.254", "it is in the private range 169.254.0.0/16"),
    ("fe80::1", "it is in the private range fe80::/10"),
    ("fd00::1", "it is in the private range fc00::/7"),
    ("::ffff:10.0.0.1", "it is in the private range 10.0.0.0/8"),
    ("198.51.100.7", None),
    ("2001:db8::7", None),
])
def test_private_ranges(address: str, reason: str | None) -> None:
    assert private_reason(parse_address(address)) == reason


def test_private_and_malformed_addresses_are_refused(capsys, clients, network) -> None:
    ec2 = clients("ec2")
    before = entries(ec2, network.default_acl)
    for address, message in (
            ("10.30.1.5", "Refusing to block 10.30.1.5: it is in the private range 10.0.0.0/8."),
            ("300.1.2.3", "'300.1.2.3' is not an IP address."),
            ("198.51.100.0/24", "is not an IP address (a network, not one address)")):
        result = ircli(capsys, "block-ip", address, "--vpc", network.vpc, "--yes")
        assert result.code == 2
        assert message in result.err
    assert entries(ec2, network.default_acl) == before


def test_vpc_own_range_is_refused_unless_forced(capsys, clients, network: Network,
                                                cli_clock) -> None:
    ec2 = clients("ec2")
    own = network.ipv6_range.split("/")[0].rstrip(":") + "::10"
    refused = ircli(capsys, "block-ip", own, "--vpc", network.vpc, "--yes")
    assert refused.code == 2 and "the VPC's own range" in refused.err
    forced = ircli(capsys, "block-ip", "10.99.0.1", "--vpc", network.vpc, "--yes", "--force")
    assert forced.code == 0, forced.err
    assert any(w.startswith("RISK (--force)") for w in forced.data["warnings"])
    assert (50, False, "deny", "10.99.0.1/32") in entries(ec2, network.default_acl)


def test_dry_run_changes_nothing(capsys, clients, network: Network, aws_env: Path) -> None:
    ec2 = clients("ec2")
    before = {acl: entries(ec2, acl) for acl in (network.default_acl, network.custom_acl)}
    result = ircli(capsys, "block-ip", ATTACKER, "--vpc", network.vpc, "--dry-run")
    assert result.code == 0 and result.data["status"] == "planned"
    block = next(s for s in result.data["steps"] if s["name"] == "block-ip")
    assert len(block["changes"]) == 6  # per ACL: the tag, inbound, outbound
    assert {acl: entries(ec2, acl) for acl in before} == before
    assert block_tags(ec2, network.default_acl) == {}
    assert not (aws_env / "cases").exists()


def test_full_range_is_a_clear_error(capsys, clients, network: Network) -> None:
    ec2 = clients("ec2")
    for rule in range(50, 100):
        ec2.create_network_acl_entry(NetworkAclId=network.default_acl, RuleNumber=rule,
                                     Protocol="-1", RuleAction="deny", Egress=False,
                                     CidrBlock=f"192.0.2.{rule}/32")
    result = ircli(capsys, "block-ip", ATTACKER, "--subnet", network.subnets[0], "--yes")
    assert result.code == 2
    assert "no free rule number in ircli's range 50-99" in result.err


def test_scope_is_required_and_exclusive(capsys, clients, network: Network) -> None:
    assert ircli(capsys, "block-ip", ATTACKER, "--yes").code == 2
    both = ircli(capsys, "block-ip", ATTACKER, "--vpc", network.vpc, "--subnet",
                 network.subnets[0], "--yes")
    assert both.code == 2 and "not both" in both.err
    unknown = ircli(capsys, "block-ip", ATTACKER, "--vpc", "vpc-0123456789abcdef0", "--yes")
    assert unknown.code == 2
