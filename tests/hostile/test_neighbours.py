"""Issue 11, item 6, played as the attacker: resources planted to look like the target's (a
target in another VPC with the same private IP, instances and volumes wearing the case's tags,
a NACL entry tagged as an ircli block, an ENI moved off the target) stay untouched."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ircli.analyst import names as n
from ircli.core.case import open_case
from ircli.core.errors import ExitCode, UserError
from ircli.core.session import AwsSession, AwsSettings
from ircli.lab.web_compromise import WebCompromise, lab_image, seed_web_compromise
from ircli.ops.analyst import AnalystOptions, attach, terminate
from ircli.ops.block import BlockOptions, block_ip, expire_blocks
from tests.fakes import FakeClock
from tests.helpers import eni_groups, run_contain, run_release

REGION = "us-east-1"
CASE = "case-1"


@pytest.fixture
def lab(clients: Any) -> WebCompromise:
    return seed_web_compromise(clients, REGION)


def aws() -> AwsSession:
    return AwsSession(AwsSettings())


# -- remove-from-service: a private IP is the suspect's only inside its VPC ----------------------
def test_ip_target_with_the_same_address_in_another_vpc_stays_registered(
        clients: Any, lab: WebCompromise) -> None:
    ec2, elbv2 = clients("ec2"), clients("elbv2")
    suspect_ip = ec2.describe_network_interfaces(NetworkInterfaceIds=lab.suspect_enis[:1])[
        "NetworkInterfaces"][0]["PrivateIpAddress"]
    other_vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]  # same range
    theirs = elbv2.create_target_group(Name="payments", Protocol="TCP", Port=443,
                                       VpcId=other_vpc, TargetType="ip")["TargetGroups"][0][
        "TargetGroupArn"]
    ours = elbv2.create_target_group(Name="web-ip", Protocol="TCP", Port=443, VpcId=lab.vpc_id,
                                     TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    for arn in (theirs, ours):
        elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": suspect_ip, "Port": 443}])

    result = run_contain(lab.suspect, case_id=CASE, snapshot=False)

    assert result.exit_code == ExitCode.OK, result.data["steps"]

    def registered(arn: str) -> list[str]:
        return [d["Target"]["Id"] for d in elbv2.describe_target_health(TargetGroupArn=arn)[
            "TargetHealthDescriptions"]]

    assert registered(theirs) == [suspect_ip]  # the other VPC's host keeps its traffic
    assert registered(ours) == []  # the suspect's own ip registration is removed


# -- analyst: only what the case recorded creating, cross-checked with its tags -------------------
def test_analyst_commands_leave_instances_and_volumes_that_only_wear_the_case_tags(
        clients: Any, lab: WebCompromise, clock: FakeClock) -> None:
    ec2 = clients("ec2")
    run_contain(lab.suspect, case_id=CASE, snapshot=False)
    # The attacker tags a production instance and its data volume as the case's analyst kit.
    tags = {"ResourceType": "instance", "Tags": n.tags("prod-db", n.PURPOSE_WORKSTATION, CASE)}
    prod = ec2.run_instances(ImageId=lab_image(ec2), MinCount=1, MaxCount=1,
                             TagSpecifications=[tags])["Instances"][0]
    data = ec2.create_volume(AvailabilityZone=prod["Placement"]["AvailabilityZone"], Size=10,
                             TagSpecifications=n.tag_spec("volume", n.tags(
                                 "prod-data", n.PURPOSE_EVIDENCE_COPY, CASE,
                                 {n.TAG_ANALYST_INSTANCE: prod["InstanceId"]})))["VolumeId"]
    ec2.attach_volume(VolumeId=data, InstanceId=prod["InstanceId"], Device="/dev/sdf")

    # attach: no analyst the case launched, so nothing is attached to the attacker's instance.
    with pytest.raises(UserError, match="has no analyst instance"):
        attach(aws(), clock, AnalystOptions(case_id=CASE))

    # Now the case really launched one (recorded as launch records it) with one evidence copy.
    analyst = ec2.run_instances(ImageId=lab_image(ec2), MinCount=1, MaxCount=1,
                                TagSpecifications=[tags])["Instances"][0]["InstanceId"]
    copy = ec2.create_volume(AvailabilityZone=prod["Placement"]["AvailabilityZone"], Size=4,
                             TagSpecifications=n.tag_spec("volume", n.tags(
                                 "copy", n.PURPOSE_EVIDENCE_COPY, CASE,
                                 {n.TAG_ANALYST_INSTANCE: analyst})))["VolumeId"]
    ec2.attach_volume(VolumeId=copy, InstanceId=analyst, Device="/dev/sdf")
    case = open_case(CASE, clock.now(), create=False)
    case.target("analyst")["created"] = [
        {"kind": "instance", "id": analyst, "at": "2026-11-28T03:00:00Z"},
        {"kind": "volume", "id": copy, "at": "2026-11-28T03:00:00Z",
         "analyst_instance": analyst}]
    case.save()

    result = terminate(aws(), clock, AnalystOptions(case_id=CASE))

    assert result.data["terminated"] == [analyst]
    assert result.data["deleted_volumes"] == [copy]
    state = ec2.describe_instances(InstanceIds=[prod["InstanceId"]])["Reservations"][0][
        "Instances"][0]["State"]["Name"]
    assert state == "running"
    [volume] = ec2.describe_volumes(VolumeIds=[data])["Volumes"]
    assert volume["State"] == "in-use" and volume["Attachments"][0]["InstanceId"] == \
        prod["InstanceId"]
    warned = " ".join(result.data["warnings"])
    assert prod["InstanceId"] in warned and data in warned


# -- block-ip --expire: only entries the case recorded creating ----------------------------------
def test_expire_lifts_only_blocks_a_case_recorded_creating(clients: Any) -> None:
    ec2 = clients("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    ec2.create_subnet(VpcId=vpc, CidrBlock="10.60.1.0/24")
    acl = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
        "NetworkAcls"][0]["NetworkAclId"]
    clock = FakeClock()
    blocked = block_ip(aws(), clock, BlockOptions("198.51.100.7", vpc=vpc, hours=1,
                                                  case_id="case-ssh", reason="test"))
    assert blocked.exit_code == ExitCode.OK, blocked.data["steps"]
    # The attacker's own allow for a partner, dressed up as an expired ircli block, once under
    # a case that does not exist and once under the real case (which never made it).
    past = (clock.now() - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for rule, address, case_id in ((70, "203.0.113.9", "case-gone"),
                                   (71, "203.0.113.10", "case-ssh")):
        ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=rule, Protocol="-1",
                                     RuleAction="deny", Egress=False, CidrBlock=f"{address}/32")
        ec2.create_tags(Resources=[acl], Tags=[{"Key": f"ircli:block:{rule}",
                                                "Value": f"{address}|{past}|{case_id}"}])
    clock.advance(2 * 3600)

    expired = expire_blocks(aws(), clock)

    assert [(b["rule_number"], b["address"]) for b in expired.data["lifted"]] == [
        (50, "198.51.100.7")]
    left = {e["RuleNumber"] for e in ec2.describe_network_acls(NetworkAclIds=[acl])[
        "NetworkAcls"][0]["Entries"]}
    assert {70, 71} <= left and 50 not in left
    assert sum("no case on this machine records creating it" in w
               for w in expired.data["warnings"]) == 2


# -- release: only ENIs still attached to the target ---------------------------------------------
def test_release_leaves_an_eni_that_left_the_instance(clients: Any, lab: WebCompromise) -> None:
    ec2 = clients("ec2")
    original = eni_groups(ec2, lab.suspect_enis)
    contained = run_contain(lab.suspect, case_id=CASE, snapshot=False)
    iso = contained.data["isolation_group_id"]
    moved = lab.suspect_enis[1]
    attachment = ec2.describe_network_interfaces(NetworkInterfaceIds=[moved])[
        "NetworkInterfaces"][0]["Attachment"]["AttachmentId"]
    ec2.detach_network_interface(AttachmentId=attachment, Force=True)
    # Attached to a neighbour now: release must not give it the suspect's old groups.
    ec2.attach_network_interface(NetworkInterfaceId=moved, InstanceId=lab.neighbour,
                                 DeviceIndex=1)

    released = run_release(lab.suspect, case_id=CASE)

    assert released.exit_code == ExitCode.OK, released.data["steps"]
    after = eni_groups(ec2, lab.suspect_enis)
    assert after[lab.suspect_enis[0]] == original[lab.suspect_enis[0]]
    assert after[moved] == [iso]
    assert any(moved in w and "no longer attached" in w for w in released.data["warnings"])


def test_an_eni_attached_after_containment_is_recorded_and_restored(
        clients: Any, lab: WebCompromise) -> None:
    ec2 = clients("ec2")
    run_contain(lab.suspect, case_id=CASE, snapshot=False)
    extra = ec2.create_network_interface(SubnetId=lab.subnet_ids[0], Groups=[lab.web_sg])[
        "NetworkInterface"]["NetworkInterfaceId"]
    ec2.attach_network_interface(NetworkInterfaceId=extra, InstanceId=lab.suspect,
                                 DeviceIndex=2)
    again = run_contain(lab.suspect, case_id=CASE, snapshot=False)
    assert eni_groups(ec2, [extra]) == {extra: [again.data["isolation_group_id"]]}
    record = json.loads(Path(again.data["case_dir"], "case.json").read_text())
    recorded = record["targets"][lab.suspect]["steps"]["isolate"]["before"]
    late = [eni for eni in recorded["network_interfaces"] if eni["id"] == extra]
    # Ids are what release restores; the names beside them are recorded for every ENI too.
    web_name = ec2.describe_security_groups(GroupIds=[lab.web_sg])["SecurityGroups"][0][
        "GroupName"]
    assert [(eni["groups"], eni["group_names"]) for eni in late] == [([lab.web_sg], [web_name])]
    assert len(recorded["network_interfaces"]) == 3  # the first two kept their originals

    released = run_release(lab.suspect, case_id=CASE)

    assert released.exit_code == ExitCode.OK, released.data["steps"]
    assert eni_groups(ec2, [extra]) == {extra: [lab.web_sg]}
