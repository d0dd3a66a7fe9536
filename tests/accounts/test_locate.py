"""locate: find a target across the organisation; failures of some pairs are results."""

from __future__ import annotations

import threading
from typing import Any

import botocore.exceptions
import pytest

from ircli.core.accounts import Account, Inventory, save_inventory
from ircli.core.fanout import Pair, PairResult, run_pairs
from tests.accounts.conftest import CENTRAL, MEMBER_A, MEMBER_B, REGIONS, ROLE, run_instance
from tests.helpers import ircli

DENIED_ACCOUNT = "333333333333"


@pytest.fixture
def inventory(org: Any) -> Inventory:
    inv = Inventory([Account(CENTRAL, "security"), Account(MEMBER_A, "web-prod"),
                     Account(MEMBER_B, "data")], source="test")
    save_inventory(inv)
    return inv


def _locate(capsys: Any, *args: str) -> Any:
    return ircli(capsys, "locate", *args, "--role-name", ROLE, "--regions", ",".join(REGIONS))


def test_an_instance_id_is_found_in_its_member_account_and_region(
        org: Any, inventory: Inventory, capsys: pytest.CaptureFixture[str]) -> None:
    instance = run_instance(org(MEMBER_B, "ec2", "eu-west-1"))
    out = _locate(capsys, instance)
    assert out.code == 0, out.err
    [hit] = out.data["found"]
    assert (hit["account"], hit["region"], hit["instance_id"]) == (MEMBER_B, "eu-west-1",
                                                                   instance)
    assert hit["account_name"] == "data"


def test_a_private_ip_is_found_in_every_vpc_that_uses_it(
        org: Any, inventory: Inventory, capsys: pytest.CaptureFixture[str]) -> None:
    first = run_instance(org(MEMBER_A, "ec2"), private_ip="10.0.1.77")
    second = run_instance(org(MEMBER_B, "ec2", "eu-west-1"), private_ip="10.0.1.77")
    out = _locate(capsys, "10.0.1.77")
    assert out.code == 0, out.err
    assert {(h["account"], h["instance_id"]) for h in out.data["found"]} == {
        (MEMBER_A, first), (MEMBER_B, second)}
    assert out.data["pairs"]["searched"] == 6  # an address is not unique: every pair asked


def test_an_access_key_is_found_through_its_account(
        org: Any, inventory: Inventory, capsys: pytest.CaptureFixture[str]) -> None:
    iam = org(MEMBER_A, "iam")
    iam.create_user(UserName="deploy")
    key = iam.create_access_key(UserName="deploy")["AccessKey"]["AccessKeyId"]
    out = _locate(capsys, key)
    assert out.code == 0, out.err
    [hit] = out.data["found"]
    assert (hit["account"], hit["user"]) == (MEMBER_A, "deploy")


def test_not_found_anywhere_exits_2_and_says_where_it_looked(
        org: Any, inventory: Inventory, capsys: pytest.CaptureFixture[str]) -> None:
    out = _locate(capsys, "i-0123456789abcdef0")
    assert out.code == 2
    assert out.data["pairs"] == {"total": 6, "searched": 6, "not-found": 6}


def test_access_denied_in_one_account_is_reported_not_fatal(
        org: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Named shim: moto's AssumeRole never refuses, so the refusal AWS would give comes here.
    import ircli.core.fanout as fanout

    real = fanout.assumed_credentials

    def refusing(sts: Any, arn: str, *args: Any, **kwargs: Any) -> Any:
        if DENIED_ACCOUNT in arn:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "AssumeRole")
        return real(sts, arn, *args, **kwargs)

    monkeypatch.setattr(fanout, "assumed_credentials", refusing)
    instance = run_instance(org(MEMBER_A, "ec2"))
    out = ircli(capsys, "locate", instance, "--role-name", ROLE, "--regions", REGIONS[0],
                "--accounts", f"{DENIED_ACCOUNT},{MEMBER_A}", "--max-concurrency", "1")
    assert out.code == 3, out.err  # found, but a pair could not be searched
    assert out.data["found"][0]["account"] == MEMBER_A
    [failed] = out.data["failed"]
    assert (failed["account"], failed["status"]) == (DENIED_ACCOUNT, "access-denied")


def test_regions_all_asks_each_account_which_regions_it_has_enabled(
        org: Any, capsys: pytest.CaptureFixture[str]) -> None:
    out = ircli(capsys, "locate", "10.9.9.9", "--role-name", ROLE, "--regions", "all",
                "--accounts", MEMBER_A)
    assert out.code == 2
    counts = out.data["pairs"]
    assert counts["total"] == counts["searched"] > 10
    # moto reports no region as not opted in; the next test covers a disabled one.


def test_the_fan_out_is_bounded_and_stops_at_a_unique_hit() -> None:
    in_flight, peak, lock = [0], [0], threading.Lock()
    release = threading.Event()

    def work(pair: Pair) -> PairResult:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
            if in_flight[0] == 4:
                release.set()
        release.wait(timeout=30)
        with lock:
            in_flight[0] -= 1
        return PairResult(pair, "found" if pair.region == "r5" else "not-found")

    pairs = [Pair("111111111111", f"r{i}") for i in range(100)]
    results = run_pairs(pairs, work, max_concurrency=4, stop=lambda r: r.status == "found")
    assert peak[0] == 4
    assert any(r.status == "found" for r in results)
    assert len(results) < 20  # nothing new started after the hit


def test_a_region_not_enabled_is_not_called(org: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import ircli.ops.locate as module
    from ircli.core.session import AwsSession, AwsSettings

    calls: list[str] = []
    aws = AwsSession(AwsSettings())
    aws.observers.append(lambda call: calls.append(call.operation))
    real_pairs = module._pairs
    monkeypatch.setattr(module, "_pairs", lambda *args: [
        *real_pairs(*args), Pair(MEMBER_A, "me-central-1", enabled=False)])
    result = module.locate(aws, module.LocateOptions(
        "10.1.1.1", accounts=[MEMBER_A], regions=[REGIONS[0]], role_name=ROLE), Inventory())
    statuses = {r.pair.region: r.status for r in result.results}
    assert statuses == {REGIONS[0]: "not-found", "me-central-1": "region-disabled"}
    assert calls.count("DescribeNetworkInterfaces") == 1
