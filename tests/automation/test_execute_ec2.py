"""The compiled ec2-compromise, run for real by the emulator's Step Functions engine.

One seeded world holds two instances configured alike (EIP, instance profile, Auto Scaling
group, target group); `ircli contain` contains A, the state machine (started with a GuardDuty
finding event for B) contains B, and both must end in the same state, item by item.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest

from ircli.automation.compiler import CompiledRunbook, compile_runbook
from ircli.lab.web_compromise import WebCompromise, seed_web_compromise
from ircli.runbook.library import get_runbook
from tests.automation.conftest import REGION, Sfn, finding_event
from tests.fakes import FakeClock
from tests.helpers import ircli
from tests.runbooks.test_run import contained_state, launch_twins


@pytest.fixture
def lab(sfn_world: Sfn) -> WebCompromise:
    return seed_web_compromise(sfn_world.clients, REGION)


def compiled(sfn_world: Sfn, name: str = "ec2-compromise") -> CompiledRunbook:
    return compile_runbook(get_runbook(name), bucket=sfn_world.bucket,
                           topic_arn=sfn_world.topic_arn)


def case_of(finding_id: str) -> str:
    """The case id the machine derives from the finding id (States.Hash MD5)."""
    return "ir-gd-" + hashlib.md5(finding_id.encode()).hexdigest()


def comparable(state: dict[str, Any]) -> dict[str, Any]:
    """``contained_state`` with the containment time left out (each run has its own clock)."""
    text = json.dumps(state, sort_keys=True)
    text = re.sub(r'"ircli:contained-at", "[^"]+"', '"ircli:contained-at", "<time>"', text)
    text = re.sub(r'"ircli:contained-by", "[^"]+"', '"ircli:contained-by", "<who>"', text)
    out = json.loads(text)
    assert out["tags"].pop("ircli:contained-at")
    return dict(out)


def test_compiled_ec2_compromise_contains_like_ircli_contain(
        sfn_world: Sfn, lab: WebCompromise, capsys: pytest.CaptureFixture[str],
        cli_clock: FakeClock) -> None:
    clients = sfn_world.clients
    first, second = launch_twins(clients, lab)
    contained = ircli(capsys, "contain", first, "--yes", "--case-id", "case-contain")
    assert contained.code == 0, contained.err
    machine = sfn_world.deploy(compiled(sfn_world))

    run = sfn_world.run(machine, finding_event(second, finding_id="gd-finding-b"))

    assert run.status == "SUCCEEDED", run.why()
    # AWS fails an execution whose state data passes 256 KiB (States.DataLimitExceeded);
    # moto does not. Half of it leaves room for an instance with more ENIs and volumes.
    assert run.largest_state < 128 * 1024, run.largest_state
    cli = comparable(contained_state(clients, lab, first, "case-contain"))
    auto = comparable(contained_state(clients, lab, second, case_of("gd-finding-b")))
    assert cli["eni_groups"] == [["ircli-isolation-endpoints"]] and not cli["in_asg"]
    assert auto["snapshots"] == cli["snapshots"]
    assert auto == cli


def world(sfn_world: Sfn, lab: WebCompromise) -> dict[str, Any]:
    """What a second containment must not add to: groups, snapshots, tags, ACL entries,
    deny-policy versions, Elastic IP associations."""
    ec2, iam = sfn_world.clients("ec2"), sfn_world.clients("iam")
    instance = ec2.describe_instances(InstanceIds=[lab.suspect])["Reservations"][0][
        "Instances"][0]
    volumes = [b["Ebs"]["VolumeId"] for b in instance["BlockDeviceMappings"]]
    policy = f"arn:aws:iam::123456789012:policy/ircli/ircli-contain-deny-{lab.role}"
    try:
        versions = len(iam.list_policy_versions(PolicyArn=policy)["Versions"])
    except iam.exceptions.NoSuchEntityException:
        versions = 0
    return {
        "groups": sorted(g["GroupName"] for g in ec2.describe_security_groups()[
            "SecurityGroups"]),
        "snapshots": len(ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]),
        "instance_tags": instance.get("Tags"),
        "volume_tags": [v.get("Tags") for v in ec2.describe_volumes(VolumeIds=volumes)[
            "Volumes"]],
        "acl_entries": sorted(len(a["Entries"]) for a in ec2.describe_network_acls()[
            "NetworkAcls"]),
        "policy_versions": versions,
        "eni_groups": [[g["GroupId"] for g in n["Groups"]] for n in
                       ec2.describe_network_interfaces(NetworkInterfaceIds=lab.suspect_enis)[
                           "NetworkInterfaces"]],
    }


def audit_chain(objects: dict[str, bytes], case_id: str) -> list[dict[str, Any]]:
    """The case's audit entries in order, each checked against the one before it."""
    prefix = f"cases/{case_id}/audit/"
    keys = sorted(k for k in objects if k.startswith(prefix))
    entries, prev = [], "0" * 64
    for seq, key in enumerate(keys):
        assert key == f"{prefix}{seq:08d}.json"
        entry = json.loads(objects[key])
        assert entry["seq"] == seq and entry["prev"] == prev, key
        assert set(entry) == {"seq", "time", "actor", "action", "detail", "prev"}
        prev = hashlib.sha256(objects[key]).hexdigest()
        entries.append(entry)
    return entries


def test_the_same_finding_delivered_twice_changes_nothing_more(
        sfn_world: Sfn, lab: WebCompromise) -> None:
    machine = sfn_world.deploy(compiled(sfn_world))
    event = finding_event(lab.suspect, finding_id="gd-twice")
    case_id = case_of("gd-twice")

    assert (run := sfn_world.run(machine, event)).status == "SUCCEEDED", run.why()
    after_first = world(sfn_world, lab)
    first_case = json.loads(sfn_world.objects(f"cases/{case_id}/case.json")[
        f"cases/{case_id}/case.json"])
    first_audit = audit_chain(sfn_world.objects(f"cases/{case_id}/"), case_id)

    assert (again := sfn_world.run(machine, event)).status == "SUCCEEDED", again.why()

    assert world(sfn_world, lab) == after_first
    objects = sfn_world.objects(f"cases/{case_id}/")
    audit = audit_chain(objects, case_id)  # one chain: the second run chained onto the first
    assert audit[:len(first_audit)] == first_audit and len(audit) > len(first_audit)
    changed = [e["detail"]["step"] for e in audit[len(first_audit):]
               if e["action"] == "step-end" and e["detail"]["status"] == "done"]
    assert changed == []
    case = json.loads(objects[f"cases/{case_id}/case.json"])
    steps, first_steps = (c["targets"][lab.suspect]["steps"] for c in (case, first_case))
    assert case["created_at"] == first_case["created_at"]
    assert case["opened_by"] == "automation:ircli-ec2-compromise"
    # The first record of every step wins: release restores what was there before the first.
    assert {k: v.get("before") for k, v in steps.items()} == \
        {k: v.get("before") for k, v in first_steps.items()}
    groups = steps["isolate"]["before"]["network_interfaces"]
    assert [g["id"] for g in groups] == lab.suspect_enis
    assert all("ircli" not in " ".join(g["group_names"]) for g in groups)
    assert case["targets"][lab.suspect]["status"] == "contained"


def test_a_throttled_call_is_retried(sfn_world: Sfn, lab: WebCompromise) -> None:
    sfn_world.emulator.throttle["modifyNetworkInterfaceAttribute"] = 1
    machine = sfn_world.deploy(compiled(sfn_world))

    run = sfn_world.run(machine, finding_event(lab.suspect, finding_id="gd-throttled"))

    assert run.status == "SUCCEEDED", run.why()
    assert sfn_world.emulator.throttle["modifyNetworkInterfaceAttribute"] == 0
    assert len(sfn_world.emulator.retry_sleeps) == 1  # one backoff, on the injected clock
    names = {g["GroupId"]: g["GroupName"] for g in sfn_world.clients("ec2")
             .describe_security_groups()["SecurityGroups"]}
    assert [[names[g] for g in groups] for groups in world(sfn_world, lab)["eni_groups"]] == \
        [["ircli-isolation-endpoints"]] * len(lab.suspect_enis)


def test_isolation_that_fails_leaves_the_instance_no_more_open_and_tells(
        sfn_world: Sfn, lab: WebCompromise) -> None:
    """The attacker's (or an SCP's) refusal of the move to the isolation group: every ENI is
    back on its own groups, never left in allow-all; failure.json and an SNS message say so,
    and nothing after isolation runs."""
    ec2 = sfn_world.clients("ec2")
    before = world(sfn_world, lab)

    def refuse(action: str, params: dict[str, Any]) -> str | None:
        if action != "modifyNetworkInterfaceAttribute":
            return None
        names = {g["GroupId"]: g["GroupName"] for g in ec2.describe_security_groups(
            GroupIds=params["Groups"])["SecurityGroups"]}
        return "UnauthorizedOperation" if "ircli-isolation-endpoints" in names.values() \
            else None

    sfn_world.emulator.refuse = refuse
    machine = sfn_world.deploy(compiled(sfn_world))

    run = sfn_world.run(machine, finding_event(lab.suspect, finding_id="gd-refused"))

    assert run.status == "FAILED" and run.error == "ircli.CriticalStepFailed", run.why()
    after = world(sfn_world, lab)
    assert after["eni_groups"] == before["eni_groups"]  # not one ENI left in transition
    assert "isolate._Failed" in (run.states or []) and "protect.Term" not in (run.states or [])
    case_id = case_of("gd-refused")
    objects = sfn_world.objects(f"cases/{case_id}/")
    failure = json.loads(objects[f"cases/{case_id}/failure.json"])
    assert failure["step"] == "isolate" and failure["target"] == lab.suspect
    case = json.loads(objects[f"cases/{case_id}/case.json"])
    assert case["targets"][lab.suspect]["status"] == "failed"
    assert case["targets"][lab.suspect]["steps"]["isolate"]["status"] == "failed"
    assert audit_chain(objects, case_id)[-1]["action"] == "run-failed"
    (message,) = sfn_world.messages()
    assert message["step"] == "isolate" and message["case_id"] == case_id


@pytest.mark.parametrize("attack", ["look-alike", "drifted"])
def test_a_group_the_attacker_prepared_is_never_used(
        sfn_world: Sfn, lab: WebCompromise, capsys: pytest.CaptureFixture[str],
        cli_clock: FakeClock, attack: str) -> None:
    """As the attacker, through plain API calls: a group named like ircli's isolation group
    but open to the world (untagged), or ircli's own group with an allow-all egress added.
    The machine moves no ENI into it: the run fails before the first move and says so."""
    ec2 = sfn_world.clients("ec2")
    if attack == "look-alike":
        fake = ec2.create_security_group(GroupName="ircli-isolation-endpoints",
                                         Description="looks like ircli's",
                                         VpcId=lab.vpc_id)["GroupId"]
    else:
        first, _second = launch_twins(sfn_world.clients, lab)
        assert ircli(capsys, "contain", first, "--yes", "--case-id", "c-1").code == 0
        fake = ec2.describe_security_groups(Filters=[
            {"Name": "group-name", "Values": ["ircli-isolation-endpoints"]}])[
            "SecurityGroups"][0]["GroupId"]
        ec2.authorize_security_group_egress(GroupId=fake, IpPermissions=[
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    before = world(sfn_world, lab)
    machine = sfn_world.deploy(compiled(sfn_world))

    run = sfn_world.run(machine, finding_event(lab.suspect, finding_id=f"gd-{attack}"))

    assert run.status == "FAILED", run.why()
    assert "isolate.M.ToTrans" not in (run.states or [])
    after = world(sfn_world, lab)
    assert after["eni_groups"] == before["eni_groups"]
    assert fake not in {g for groups in after["eni_groups"] for g in groups}
    failure = json.loads(sfn_world.objects(f"cases/{case_of(f'gd-{attack}')}/failure.json")[
        f"cases/{case_of(f'gd-{attack}')}/failure.json"])
    expected = "ircli.LookAlikeGroup" if attack == "look-alike" else "ircli.GroupDrifted"
    assert failure["step"] == "isolate" and failure["error"]["Error"] == expected
    assert [m["step"] for m in sfn_world.messages()] == ["isolate"]
