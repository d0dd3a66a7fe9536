"""Issue 8's acceptance: contain, `analyst launch --create-network`, `attach`, read AWS back."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from ircli.analyst import names as n
from ircli.cli.main import main
from ircli.evidence import policy as pol
from tests.analyst.conftest import BUCKET, CASE, RunCli, Scene, launch_args, problems
from tests.helpers import tags


def _instance(ec2: Any, iid: str) -> dict[str, Any]:
    return dict(ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0])


def _list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else sorted(value)


def test_launch_puts_the_analyst_in_a_forensic_vpc_out_of_the_suspects_reach(
        clients: Any, cli: RunCli, scene: Scene) -> None:
    code, data = cli(*launch_args("--create-network"))
    assert code == 0, problems(data)
    ec2 = clients("ec2")
    analyst = _instance(ec2, data["analyst_instance_id"])
    # a VPC of its own: private subnet, no internet gateway, S3 gateway + SSM endpoints
    assert analyst["VpcId"] == data["vpc_id"] != scene.lab.vpc_id
    assert analyst["SubnetId"] == data["subnet_id"]
    vpc = ec2.describe_vpcs(VpcIds=[data["vpc_id"]])["Vpcs"][0]
    assert tags(vpc)["Name"] == n.FORENSIC_VPC
    assert ec2.describe_internet_gateways(Filters=[
        {"Name": "attachment.vpc-id", "Values": [data["vpc_id"]]}])["InternetGateways"] == []
    endpoints = ec2.describe_vpc_endpoints(Filters=[
        {"Name": "vpc-id", "Values": [data["vpc_id"]]}])["VpcEndpoints"]
    assert sorted((e["ServiceName"].rsplit(".", 1)[-1], e["VpcEndpointType"])
                  for e in endpoints) == [("ec2messages", "Interface"), ("s3", "Gateway"),
                                          ("ssm", "Interface"), ("ssmmessages", "Interface")]
    # the instance: IMDSv2 only, no public address, encrypted root, tagged with the case
    assert analyst["MetadataOptions"]["HttpTokens"] == "required"
    assert "PublicIpAddress" not in analyst
    assert tags(analyst)["ircli:case-id"] == CASE
    [root] = analyst["BlockDeviceMappings"]
    assert ec2.describe_volumes(VolumeIds=[root["Ebs"]["VolumeId"]])["Volumes"][0][
        "Encrypted"] is True
    # its group: nothing in; out only tcp/443 to the interface endpoints and the S3 gateway
    enis = ec2.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-id", "Values": [analyst["InstanceId"]]}])
    [eni] = enis["NetworkInterfaces"]
    assert [g["GroupId"] for g in eni["Groups"]] == [data["security_group_id"]]
    [group] = ec2.describe_security_groups(GroupIds=[data["security_group_id"]])[
        "SecurityGroups"]
    assert group["IpPermissions"] == []
    [egress] = group["IpPermissionsEgress"]
    assert (egress["IpProtocol"], egress["FromPort"], egress["ToPort"]) == ("tcp", 443, 443)
    assert egress["IpRanges"] == [] and egress.get("Ipv6Ranges", []) == []
    endpoint_groups = {g["GroupId"] for e in endpoints for g in e.get("Groups", [])}
    assert {p["GroupId"] for p in egress["UserIdGroupPairs"]} == endpoint_groups
    s3_list = ec2.describe_managed_prefix_lists(Filters=[{
        "Name": "prefix-list-name", "Values": [f"com.amazonaws.{scene.lab.region}.s3"]}])
    assert [p["PrefixListId"] for p in egress["PrefixListIds"]] == [
        s3_list["PrefixLists"][0]["PrefixListId"]]
    # the suspect's isolation group reaches neither the analyst's group nor its VPC
    [isolation] = ec2.describe_security_groups(GroupIds=[scene.isolation_group])[
        "SecurityGroups"]
    forensic = ipaddress.ip_network(vpc["CidrBlock"])
    for rule in isolation["IpPermissionsEgress"]:
        assert data["security_group_id"] not in {
            p["GroupId"] for p in rule.get("UserIdGroupPairs", [])}
        assert not any(ipaddress.ip_network(r["CidrIp"]).overlaps(forensic)
                       for r in rule.get("IpRanges", []))
    assert ec2.describe_vpc_peering_connections()["VpcPeeringConnections"] == []


def test_the_analyst_role_reads_the_case_prefix_and_nothing_else(clients: Any, cli: RunCli,
                                                                 scene: Scene) -> None:
    key = clients("kms").create_key(Description="evidence")["KeyMetadata"]
    code, _ = cli("evidence", "init", "--yes", "--bucket", BUCKET, "--kms-key-id", key["KeyId"])
    assert code == 0
    code, data = cli(*launch_args("--create-network"))
    assert code == 0, problems(data)
    iam = clients("iam")
    analyst = _instance(clients("ec2"), data["analyst_instance_id"])
    profile_name = analyst["IamInstanceProfile"]["Arn"].rsplit("/", 1)[-1]
    [role] = iam.get_instance_profile(InstanceProfileName=profile_name)["InstanceProfile"][
        "Roles"]
    assert role["Arn"] == data["role_arn"]
    assert iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"] == [
        n.EVIDENCE_POLICY]
    attached = iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]
    document = iam.get_role_policy(RoleName=role["RoleName"], PolicyName=n.EVIDENCE_POLICY)[
        "PolicyDocument"]
    statements = {s["Sid"]: s for s in document["Statement"]}
    bucket = f"arn:aws:s3:::{BUCKET}"
    objects = f"{bucket}/cases/{CASE}/*"
    allows = [s for s in statements.values() if s["Effect"] == "Allow"]
    assert sorted((a, s["Resource"]) for s in allows for a in _list(s["Action"])) == [
        ("kms:Decrypt", key["Arn"]), ("s3:GetObject", objects),
        ("s3:GetObjectVersion", objects), ("s3:ListBucket", bucket)]
    assert statements["IrcliDecryptEvidence"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
    assert statements["IrcliListCaseEvidence"]["Condition"] == {
        "StringLike": {"s3:prefix": [f"cases/{CASE}/*"]}}
    # the bucket policy grants its analysts the whole bucket, so the role denies the rest
    assert statements["IrcliDenyOtherObjects"]["NotResource"] == [bucket, objects]
    assert statements["IrcliDenyOtherListing"]["Condition"] == {
        "StringNotLike": {"s3:prefix": [f"cases/{CASE}/*"]}}
    bucket_policy = json.loads(clients("s3").get_bucket_policy(Bucket=BUCKET)["Policy"])
    by_sid = {s["Sid"]: s for s in bucket_policy["Statement"]}
    assert _list(by_sid[pol.SID_ANALYST]["Principal"]["AWS"]) == [role["Arn"]]
    assert "s3:GetObject" in by_sid[pol.SID_ANALYST]["Action"]
    readers = by_sid[pol.SID_DENY_READ]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert role["Arn"] in readers
    writers = by_sid[pol.SID_DENY_WRITE]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert role["Arn"] not in writers


def test_attach_copies_every_snapshot_to_the_analyst(clients: Any, cli: RunCli,
                                                     scene: Scene,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, launched = cli(*launch_args("--create-network"))
    assert code == 0, problems(launched)
    # moto applies the policy's conditional denies to every upload (tests/evidence/conftest.py)
    clients("s3").delete_bucket_policy(Bucket=BUCKET)
    code, data = cli("analyst", "attach", "--case-id", CASE, "--yes",
                     "--evidence-bucket", BUCKET)
    assert code == 0, problems(data)
    assert data["evidence"]["shipped"] is True
    shipped = clients("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"cases/{CASE}/")
    assert {f"cases/{CASE}/case.json", f"cases/{CASE}/audit.jsonl"} <= {
        o["Key"] for o in shipped["Contents"]}
    ec2 = clients("ec2")
    iid = launched["analyst_instance_id"]
    az = _instance(ec2, iid)["Placement"]["AvailabilityZone"]
    copies = ec2.describe_volumes(Filters=[
        {"Name": "attachment.instance-id", "Values": [iid]},
        {"Name": "tag:ircli:purpose", "Values": [n.PURPOSE_EVIDENCE_COPY]}])["Volumes"]
    by_snapshot = {v["SnapshotId"]: v for v in copies}
    assert set(by_snapshot) == {s["snapshot_id"] for s in scene.snapshots}
    devices = []
    for snap in scene.snapshots:
        volume = by_snapshot[snap["snapshot_id"]]
        assert volume["AvailabilityZone"] == az and volume["Encrypted"] is True
        assert volume["Attachments"][0]["State"] in ("attaching", "attached")
        assert tags(volume).items() >= {
            "ircli:case-id": CASE, "ircli:source-snapshot": snap["snapshot_id"],
            "ircli:source-volume": snap["volume_id"], "ircli:device": snap["device"],
            "ircli:analyst-instance": iid}.items()
        devices.append(volume["Attachments"][0]["Device"])
    assert sorted(devices) == ["/dev/sdf", "/dev/sdg", "/dev/sdh"]
    assert data["not_attached"] == []
    assert {v["volume_id"] for v in data["volumes"]} == {v["VolumeId"] for v in copies}
    commands = "\n".join(c for v in data["volumes"] for c in v["commands"])
    assert "mount -o ro,noload" in commands and "mount -o ro,norecovery,nouuid" in commands
    assert "blockdev --setro" in commands

    with pytest.raises(SystemExit) as exc:
        main(["analyst", "attach", "--case-id", CASE, "--yes"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    for volume in data["volumes"]:
        assert f"{volume['device']} {volume['volume_id']}: copy of {volume['snapshot_id']}" in out
    assert "sudo mount -o ro,noload PART /mnt/evidence/" in out
