"""`ircli triage`: sample findings pick their runbooks; --execute runs them against the emulator."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from ircli.core.session import AwsSession, AwsSettings
from ircli.lab.web_compromise import WebCompromise, seed_web_compromise
from ircli.ops.triage import triage
from ircli.runbook.library import all_runbooks
from ircli.triage.describe import look_up_names, plain_words
from ircli.triage.finding import parse_finding
from ircli.triage.match import closest_runbooks, match_runbook
from ircli.triage.source import fetch_finding, read_finding
from tests.helpers import contain_deny, eni_groups, ircli
from tests.runbooks.conftest import FINDINGS, Network, block_tags, entries

REGION = "us-east-1"
EXPECTED = {
    "ssh-brute-force": "ssh-brute-force",
    "ec2-compromise": "ec2-compromise",
    "crypto-mining": "crypto-mining",
    "iam-key-compromise": "iam-key-compromise",
    "instance-credential-exfiltration": "instance-credential-exfiltration",
    "port-probe": None,
}


def sample(name: str, tmp_path: Path, **ids: str) -> Path:
    """The sample finding with its placeholder ids replaced by real ones."""
    text = (FINDINGS / f"{name}.json").read_text()
    for placeholder, real in {"i-99999999999999999": ids.get("instance"),
                              "vpc-99999999999999999": ids.get("vpc"),
                              "AKIAIOSFODNN7EXAMPLE": ids.get("key")}.items():
        if real:
            text = text.replace(placeholder, real)
    path = tmp_path / f"{name}.json"
    path.write_text(text)
    return path


@pytest.fixture
def lab(clients: Any) -> WebCompromise:
    return seed_web_compromise(clients, REGION)


@pytest.mark.parametrize(("name", "expected"), EXPECTED.items())
def test_each_sample_finding_picks_its_runbook(name: str, expected: str | None) -> None:
    finding = read_finding(str(FINDINGS / f"{name}.json"), io.StringIO())
    runbooks = all_runbooks()
    match = match_runbook(finding, runbooks)
    assert (match.runbook.name if match else None) == expected
    if expected is None:
        # the EC2 runbooks, nearest first; none of the IAM ones
        closest = closest_runbooks(finding, runbooks)
        assert [c["runbook"] for c in closest] == [
            "ec2-compromise", "ssh-brute-force", "crypto-mining"]
        assert closest[0]["pattern"] == "Recon:EC2/Portscan"  # the nearest type, not a match


def test_resource_role_decides_between_blocking_and_containing(clients) -> None:
    event = json.loads((FINDINGS / "ssh-brute-force.json").read_text())
    event["detail"]["service"]["resourceRole"] = "ACTOR"  # our instance is the attacker
    result = triage(AwsSession(AwsSettings()), parse_finding(event), all_runbooks())
    assert result.match is not None and result.match.runbook.name == "ec2-compromise"
    assert result.report["resource"]["role"] == "ACTOR"


def test_triage_cli_plans_each_runbook_against_real_resources(
        capsys, clients, lab: WebCompromise, collect_stand_in, tmp_path: Path, aws_env) -> None:
    iam = clients("iam")
    iam.create_user(UserName="alice")
    key = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    ids = {"instance": lab.suspect, "vpc": lab.vpc_id, "key": key}
    for name, expected in EXPECTED.items():
        result = ircli(capsys, "triage", str(sample(name, tmp_path, **ids)))
        assert result.code == 0, (name, result.err)
        data = result.data
        if expected is None:
            assert data["status"] == "no-runbook" and data["triage"]["runbook"] is None
            continue
        assert (data["runbook"], data["status"], data["dry_run"]) == (expected, "planned", True)
        assert data["triage"]["runbook"]["runbook"] == expected
        assert data["finding"]["type"] == data["triage"]["finding"]["type"]
    assert not (aws_env / "cases").exists()  # triage without --execute changes nothing


def test_plain_words_with_names_beside_ids(clients, lab: WebCompromise, tmp_path) -> None:
    clients("iam").create_account_alias(AccountAlias="acme-prod")
    aws = AwsSession(AwsSettings())
    ssh = read_finding(str(sample("ssh-brute-force", tmp_path, instance=lab.suspect)),
                       io.StringIO())
    words = plain_words(ssh, look_up_names(aws, ssh))
    assert words.startswith(
        f"198.51.100.7 (Amsterdam, Netherlands, Example Hosting) connected to instance "
        f"{lab.suspect} (bastion-1) on port 22 (SSH), 57 times between 2026-11-28T01:02:11")
    backdoor = read_finding(str(sample("ec2-compromise", tmp_path, instance=lab.suspect)),
                            io.StringIO())
    names = look_up_names(aws, backdoor)  # no Name tag in the finding: asked from EC2
    assert (names.instance_name, names.role, names.account_alias) == ("web-1", "web-tier",
                                                                     "acme-prod")
    assert plain_words(backdoor, names).startswith(
        f"Instance {lab.suspect} (web-1) connected out to 192.0.2.66 (Victoria, Seychelles, "
        "Example Bulletproof Hosting) on port 4444, 12 times")
    exfil = read_finding(str(FINDINGS / "instance-credential-exfiltration.json"), io.StringIO())
    assert plain_words(exfil, look_up_names(aws, exfil)).startswith(
        "GetObject was called with the credentials of role web-tier issued to instance "
        "i-99999999999999999 from 198.51.100.200 (Sao Paulo, Brazil")


def test_text_output_shows_resource_remote_severity_and_plan(capsys, clients, lab, tmp_path):
    path = sample("crypto-mining", tmp_path, instance=lab.suspect)
    result = ircli(capsys, "triage", str(path), json_output=False)
    assert result.code == 0, result.err
    assert "What:       Instance " in result.out
    assert "Runbook:    crypto-mining" in result.out
    result = ircli(capsys, "triage", str(FINDINGS / "ssh-brute-force.json"), "--vpc",
                   lab.vpc_id, json_output=False)
    assert result.code == 0, result.err
    out = result.out
    assert "Severity:   2 (Low)" in out
    assert "Remote:     198.51.100.7 port 51514 — Amsterdam, Netherlands, Example Hosting" in out
    assert "Runbook:    ssh-brute-force (answers UnauthorizedAccess:EC2/SSHBruteForce as " \
           "TARGET; shipped)" in out
    assert "PLAN (dry-run: nothing was changed)" in out
    assert "Would block: 198.51.100.7 in acl-" in out


def test_execute_on_ssh_brute_force_then_expire_after_24_hours(
        capsys, clients, network: Network, cli_clock, tmp_path: Path) -> None:
    ec2 = clients("ec2")
    before = {acl: entries(ec2, acl) for acl in (network.default_acl, network.custom_acl)}
    path = sample("ssh-brute-force", tmp_path, vpc=network.vpc)
    result = ircli(capsys, "triage", str(path), "--execute", "--yes")
    assert result.code == 0, result.err
    data = result.data
    assert (data["runbook"], data["status"], data["address"]) == ("ssh-brute-force", "blocked",
                                                                  "198.51.100.7")
    assert data["triage"]["finding"]["id"] == "a6c8d2b1f0e94c3e9b7a5d4c3b2a1f00"
    denied = {(r, e, "deny", "198.51.100.7/32") for r in (50,) for e in (False, True)}
    assert entries(ec2, network.default_acl) == before[network.default_acl] | denied
    assert entries(ec2, network.custom_acl) - before[network.custom_acl] == {
        (52, False, "deny", "198.51.100.7/32"), (52, True, "deny", "198.51.100.7/32")}
    case = json.loads((Path(data["case_dir"]) / "case.json").read_text())
    assert case["targets"]["ip/198.51.100.7"]["reason"].startswith(
        "GuardDuty UnauthorizedAccess:EC2/SSHBruteForce")

    cli_clock.advance(24 * 3600 - 60)
    assert ircli(capsys, "block-ip", "--expire").data["lifted"] == []
    cli_clock.advance(120)
    expired = ircli(capsys, "block-ip", "--expire")
    assert expired.code == 0 and len(expired.data["lifted"]) == 2
    assert {acl: entries(ec2, acl) for acl in before} == before  # earlier entries untouched
    assert block_tags(ec2, network.default_acl) == block_tags(ec2, network.custom_acl) == {}


def test_execute_instance_credential_exfiltration_denies_first(capsys, clients, lab, tmp_path,
                                                               cli_clock) -> None:
    before = eni_groups(clients("ec2"), lab.suspect_enis)
    path = sample("instance-credential-exfiltration", tmp_path, instance=lab.suspect)
    result = ircli(capsys, "triage", str(path), "--execute", "--yes")
    assert result.code == 0, result.err
    names = [s["name"] for s in result.data["steps"]]
    assert names.index("cut-credentials") < names.index("isolate")
    document = contain_deny(clients("iam"), lab.role)
    assert document["Statement"][0]["Condition"]["StringLike"]["ec2:SourceInstanceARN"] == [
        f"*/{lab.suspect}"]
    assert result.data["isolation_group_id"]
    released = ircli(capsys, "release", lab.suspect, "--yes")  # the runbook's case record
    assert released.code == 0, released.err
    assert released.data["case_id"] == result.data["case_id"]
    assert clients("iam").list_role_policies(RoleName=lab.role)["PolicyNames"] == []
    assert clients("iam").list_attached_role_policies(RoleName=lab.role)[
        "AttachedPolicies"] == []
    assert eni_groups(clients("ec2"), lab.suspect_enis) == before


def test_crypto_mining_notifies_the_team(capsys, clients, lab, tmp_path, collect_stand_in,
                                         cli_clock) -> None:
    sns, sqs = clients("sns"), clients("sqs")
    topic = sns.create_topic(Name="ir-team")["TopicArn"]
    queue = sqs.create_queue(QueueName="ir-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    path = sample("crypto-mining", tmp_path, instance=lab.suspect)
    result = ircli(capsys, "triage", str(path), "--execute", "--yes", "--notify-topic", topic)
    assert result.code == 0, result.err
    notify = next(s for s in result.data["steps"] if s["name"] == "notify")
    assert notify["status"] == "done"
    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    body = message["Body"]
    case_id = result.data["case_id"]
    assert f"ircli case {case_id}" in body
    assert f"Target: {lab.suspect} (web-1)" in body
    assert "Finding: CryptoCurrency:EC2/BitcoinTool.B!DNS (c4a6e8c0b2d44f6e8a0c2e4a6c8e0a43)" \
        in body
    assert "  - Isolate the network: done" in body and "  - Snapshot the volumes: done" in body
    assert f"Evidence: case directory {result.data['case_dir']}" in body
    assert "ircli evidence sync" in body


def test_no_matching_runbook_lists_the_closest(capsys, clients, tmp_path) -> None:
    result = ircli(capsys, "triage", str(FINDINGS / "port-probe.json"), json_output=False)
    assert result.code == 0
    assert "none answers Recon:EC2/PortProbeUnprotectedPort" in result.out
    assert "closest:  ec2-compromise (Recon:EC2/Portscan, similarity 0.79)" \
        in result.out
    refused = ircli(capsys, "triage", str(FINDINGS / "port-probe.json"), "--execute", "--yes")
    assert refused.code == 2


def test_stdin_event_region_and_account_checks(capsys, clients, monkeypatch, lab,
                                               tmp_path) -> None:
    text = (FINDINGS / "ssh-brute-force.json").read_text().replace(
        "vpc-99999999999999999", lab.vpc_id)
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert ircli(capsys, "triage", "-").data["runbook"] == "ssh-brute-force"
    other_region = ircli(capsys, "triage", str(FINDINGS / "port-probe.json"), "--region",
                         "eu-west-1")
    assert other_region.code == 2 and "from region us-east-1" in other_region.err
    foreign = tmp_path / "foreign.json"
    foreign.write_text(text.replace("123456789012", "999999999999"))
    refused = ircli(capsys, "triage", str(foreign))
    assert refused.code == 2 and "in account 999999999999" in refused.err
    assert "--role-name" in refused.err
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"hello": "world"}')
    assert "not a GuardDuty finding" in ircli(capsys, "triage", str(garbage)).err


def test_finding_id_through_getfindings(capsys, clients) -> None:
    detector = clients("guardduty").create_detector(Enable=True)["DetectorId"]
    gap = ircli(capsys, "triage", "--finding-id", "a6c8d2b1f0e94c3e9b7a5d4c3b2a1f00",
                "--detector-id", detector)
    assert gap.code == 2 and "does not implement GuardDuty GetFindings" in gap.err
    # What AWS answers (boto3 PascalCase), through a stub: triage reads it like the export.
    raw = json.loads((FINDINGS / "ssh-brute-force.json").read_text())["detail"]
    aws = AwsSession(AwsSettings())
    client = aws.client("guardduty")
    with Stubber(client) as stub:
        stub.add_response("list_detectors", {"DetectorIds": [detector]})
        stub.add_response("get_findings", {"Findings": [_pascal(raw)]},
                          {"DetectorId": detector, "FindingIds": [raw["id"]]})
        finding = fetch_finding(aws, raw["id"], None)
    assert finding.type == "UnauthorizedAccess:EC2/SSHBruteForce"
    assert finding.remote.ip == "198.51.100.7" and finding.resource_role == "TARGET"
    assert finding.instance_name == "bastion-1" and finding.vpc_id == "vpc-99999999999999999"


def _pascal(value: Any) -> Any:
    """A finding as boto3 returns it from GetFindings (PascalCase keys, typed values)."""
    if isinstance(value, dict):
        return {k[0].upper() + k[1:]: _pascal(v) for k, v in value.items() if v is not None
                and k not in ("additionalInfo", "productCodes", "outpostArn", "geoLocation")}
    if isinstance(value, list):
        return [_pascal(v) for v in value]
    return value
