"""`runbook run` builds its steps from the registry and runs them the way the built-ins do."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from ircli.aws.iam_policies import contained_ids
from ircli.core.step import Step
from ircli.lab.web_compromise import WebCompromise, lab_image, seed_web_compromise
from ircli.ops.contain import ContainOptions, contain_steps
from ircli.ops.runbook import build_steps
from ircli.runbook.kinds import KINDS
from ircli.runbook.library import get_runbook
from tests.helpers import contain_deny, ircli, tags
from tests.identity.helpers import has_login, key_statuses

REGION = "us-east-1"

# Steps that only advise (change nothing, end "skipped"): DNS, Kubernetes.
ADVICE = ("collect", "dns-resolver-warning", "kubernetes-actions")


@pytest.fixture
def lab(clients: Any) -> WebCompromise:
    return seed_web_compromise(clients, REGION)


def launch_twins(clients: Any, lab: WebCompromise) -> list[str]:
    """Two instances configured alike: EIP, profile, Auto Scaling group, target group."""
    ec2 = clients("ec2")
    ids = []
    for _twin in range(2):
        instance = ec2.run_instances(
            ImageId=lab_image(ec2), MinCount=1, MaxCount=1, InstanceType="t3.small",
            NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": lab.subnet_ids[0],
                                "Groups": [lab.web_sg]}],
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {
                "VolumeSize": 8, "DeleteOnTermination": True}}],
            IamInstanceProfile={"Arn": lab.profile_arn},
            TagSpecifications=[{"ResourceType": "instance", "Tags": [
                {"Key": "Name", "Value": "twin"}]}])["Instances"][0]
        eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
        ec2.associate_address(AllocationId=eip, NetworkInterfaceId=instance[
            "NetworkInterfaces"][0]["NetworkInterfaceId"])
        ids.append(instance["InstanceId"])
    ec2.get_waiter("instance_running").wait(InstanceIds=ids,
                                            WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
    clients("autoscaling").attach_instances(AutoScalingGroupName=lab.asg, InstanceIds=ids)
    clients("elbv2").register_targets(TargetGroupArn=lab.target_group_arn,
                                      Targets=[{"Id": i, "Port": 443} for i in ids])
    return ids


def contained_state(clients: Any, lab: WebCompromise, iid: str, case_id: str) -> dict[str, Any]:
    """Everything containment changes about one instance, with its own ids written generically."""
    ec2, iam = clients("ec2"), clients("iam")

    def generic(value: Any) -> Any:  # ids and times (the runs share one fake clock) generic
        text = json.dumps(value, sort_keys=True, default=str)
        text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", "<time>", text)
        return json.loads(text.replace(iid, "<instance>").replace(case_id, "<case>"))

    instance = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    groups = {g["GroupId"]: g["GroupName"] for g in ec2.describe_security_groups()[
        "SecurityGroups"]}
    enis = ec2.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-id", "Values": [iid]}])["NetworkInterfaces"]
    attr = ec2.describe_instance_attribute
    volumes = [b["Ebs"]["VolumeId"] for b in instance["BlockDeviceMappings"]]
    snapshots = ec2.describe_snapshots(Filters=[{"Name": "volume-id", "Values": volumes}])[
        "Snapshots"]
    deny = contain_deny(iam, lab.role)  # one policy for the role: is this instance in it?
    asg = clients("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[lab.asg])
    targets = clients("elbv2").describe_target_health(TargetGroupArn=lab.target_group_arn)
    instance_tags = tags(instance)
    instance_tags.pop("ircli:contained-by")
    return generic({
        "eni_groups": [sorted(groups[g["GroupId"]] for g in n["Groups"]) for n in enis],
        "public_ip": [n.get("Association", {}).get("PublicIp") for n in enis],
        "tags": instance_tags,
        "volume_tags": [sorted(tags(v).items()) for v in ec2.describe_volumes(
            VolumeIds=volumes)["Volumes"]],
        "termination_protection": attr(InstanceId=iid, Attribute="disableApiTermination")[
            "DisableApiTermination"]["Value"],
        "shutdown": attr(InstanceId=iid, Attribute="instanceInitiatedShutdownBehavior")[
            "InstanceInitiatedShutdownBehavior"]["Value"],
        "delete_on_termination": [b["Ebs"]["DeleteOnTermination"]
                                  for b in instance["BlockDeviceMappings"]],
        "snapshots": sorted(json.dumps(tags(s), sort_keys=True) for s in snapshots),
        "role_policy": iid in contained_ids(deny),
        "in_asg": iid in [i["InstanceId"] for i in asg["AutoScalingGroups"][0]["Instances"]],
        "in_target_group": iid in [d["Target"]["Id"] for d in targets[
            "TargetHealthDescriptions"]],
        "profile": instance.get("IamInstanceProfile", {}).get("Arn"),
    })


def test_contain_and_the_ec2_compromise_runbook_leave_the_same_state(
        capsys, clients, lab: WebCompromise, collect_stand_in: type[Step], cli_clock) -> None:
    first, second = launch_twins(clients, lab)
    contained = ircli(capsys, "contain", first, "--yes", "--case-id", "case-contain")
    assert contained.code == 0, contained.err
    result = ircli(capsys, "runbook", "run", "ec2-compromise", "--target", second, "--yes",
                   "--case-id", "case-runbook")
    data = result.data
    assert data["command"] == "runbook" and data["runbook"] == "ec2-compromise"
    statuses = {s["name"]: s["status"] for s in data["steps"]}
    assert list(statuses)[:2] == ["resolve", "record"] and list(statuses)[-2:] == [
        "collect", "share-forensic-copies"]  # skipped: no forensics account configured
    assert result.code == 0, result.err
    assert data["status"] == "contained"
    assert all(status == "done" for name, status in statuses.items()
               if name not in (*ADVICE, "share-forensic-copies"))
    before = contained_state(clients, lab, first, "case-contain")
    assert before["tags"]["ircli:status"] == "contained" and not before["in_asg"]
    assert before["eni_groups"] == [["ircli-isolation-endpoints"]]
    assert contained_state(clients, lab, second, "case-runbook") == before


def test_contain_steps_are_the_runbook_steps() -> None:
    runbook = get_runbook("ec2-compromise")
    target = "i-0123456789abcdef0"
    from_runbook = [(s.name, vars(s)) for s in build_steps(runbook, target)
                    if s.name not in (*ADVICE, "share-forensic-copies")]  # with [forensics]
    preamble = [(name, {}) for name in KINDS["instance"].preamble]
    assert [(s.name, vars(s)) for s in contain_steps(ContainOptions(target))] == \
        preamble + from_runbook


def test_dry_run_plans_and_changes_nothing(capsys, clients, lab, collect_stand_in,
                                           aws_env) -> None:
    from tests.helpers import aws_state

    before = aws_state(clients)
    result = ircli(capsys, "runbook", "run", "crypto-mining", "--target", lab.suspect,
                   "--dry-run")
    assert result.code == 0, result.err
    assert result.data["status"] == "planned"
    assert aws_state(clients) == before
    assert not (aws_env / "cases").exists()
    steps = {s["name"]: s for s in result.data["steps"]}
    assert steps["notify"]["status"] == "skipped"  # no topic configured
    assert any("--notify-topic" in w for w in result.data["warnings"])


def test_iam_key_compromise_disables_only_the_finding_key(capsys, clients) -> None:
    iam = clients("iam")
    iam.create_user(UserName="alice")
    leaked = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    other = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    iam.create_login_profile(UserName="alice", Password="Correct-Horse-9!")
    result = ircli(capsys, "runbook", "run", "iam-key-compromise", "--target", leaked, "--yes")
    assert result.code == 0, result.err
    assert result.data["user_name"] == "alice" and result.data["runbook"] == "iam-key-compromise"
    assert [s["name"] for s in result.data["steps"]] == [
        "record-user", "disable-keys", "deny-user", "delete-login", "tag-user"]
    assert key_statuses(iam, "alice") == {leaked: "Inactive", other: "Active"}
    assert not has_login(iam, "alice")
    user_tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName="alice")["Tags"]}
    assert user_tags["ircli:case-id"] == result.data["case_id"]


def test_target_of_the_wrong_kind_is_refused(capsys, clients) -> None:
    result = ircli(capsys, "runbook", "run", "iam-key-compromise",
                   "--target", "i-0123456789abcdef0", "--yes")
    assert result.code == 2
    assert "acts on an IAM access key" in result.err
    ip = ircli(capsys, "runbook", "run", "ssh-brute-force", "--target", "198.51.100.7", "--yes")
    assert ip.code == 2 and "--vpc" in ip.err


def test_invalid_runbook_file_does_not_run(capsys, clients, tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\ndescription: d\ntarget: instance\nsteps: [isolat]\n")
    result = ircli(capsys, "runbook", "run", str(path), "--target", "i-0123456789abcdef0")
    assert result.code == 2
    assert f"{path}:4: unknown step 'isolat'" in result.err
