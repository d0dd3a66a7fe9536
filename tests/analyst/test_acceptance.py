"""Issue 8's acceptance: contain, `analyst launch --create-network`, `attach`, read AWS back."""

from __future__ import annotations

import json
from typing import Any

from ircli.analyst import names as n
from ircli.evidence import policy as pol
from tests.analyst.conftest import BUCKET, CASE, RunCli, Scene, launch_args, problems
from tests.helpers import tags


def _instance(ec2: Any, iid: str) -> dict[str, Any]:
    return dict(ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0])


def test_launch_puts_the_analyst_in_a_forensic_vpc(clients: Any, cli: RunCli,
                                                   scene: Scene) -> None:
    code, data = cli(*launch_args("--create-network"))
    assert code == 0, problems(data)
    ec2 = clients("ec2")
    analyst = _instance(ec2, data["analyst_instance_id"])
    assert analyst["VpcId"] == data["vpc_id"] != scene.lab.vpc_id
    vpc = ec2.describe_vpcs(VpcIds=[data["vpc_id"]])["Vpcs"][0]
    assert tags(vpc)["Name"] == n.FORENSIC_VPC
    assert ec2.describe_internet_gateways(Filters=[
        {"Name": "attachment.vpc-id", "Values": [data["vpc_id"]]}])["InternetGateways"] == []
    endpoints = ec2.describe_vpc_endpoints(Filters=[
        {"Name": "vpc-id", "Values": [data["vpc_id"]]}])["VpcEndpoints"]
    assert sorted((e["ServiceName"].rsplit(".", 1)[-1], e["VpcEndpointType"])
                  for e in endpoints) == [("ec2messages", "Interface"), ("s3", "Gateway"),
                                          ("ssm", "Interface"), ("ssmmessages", "Interface")]
    assert analyst["MetadataOptions"]["HttpTokens"] == "required"
    assert "PublicIpAddress" not in analyst
    assert tags(analyst)["ircli:case-id"] == CASE
    [root] = analyst["BlockDeviceMappings"]
    volume = ec2.describe_volumes(VolumeIds=[root["Ebs"]["VolumeId"]])["Volumes"][0]
    assert volume["Encrypted"] is True


def test_the_analyst_role_reads_the_case_prefix_and_nothing_else(clients: Any, cli: RunCli,
                                                                 scene: Scene) -> None:
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
    objects = f"arn:aws:s3:::{BUCKET}/cases/{CASE}/*"
    allows = [s for s in statements.values() if s["Effect"] == "Allow"]
    assert sorted(a for s in allows for a in _list(s["Action"])) == [
        "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"]
    assert statements["IrcliReadCaseEvidence"]["Resource"] == objects
    assert statements["IrcliListCaseEvidence"]["Condition"] == {
        "StringLike": {"s3:prefix": [f"cases/{CASE}/*"]}}
    assert statements["IrcliDenyOtherObjects"]["NotResource"] == [
        f"arn:aws:s3:::{BUCKET}", objects]
    assert statements["IrcliDenyOtherListing"]["Condition"] == {
        "StringNotLike": {"s3:prefix": [f"cases/{CASE}/*"]}}
    bucket_policy = json.loads(clients("s3").get_bucket_policy(Bucket=BUCKET)["Policy"])
    by_sid = {s["Sid"]: s for s in bucket_policy["Statement"]}
    assert _list(by_sid[pol.SID_ANALYST]["Principal"]["AWS"]) == [role["Arn"]]
    deny = by_sid[pol.SID_DENY_READ]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert role["Arn"] in deny


def test_attach_copies_every_snapshot_to_the_analyst(clients: Any, cli: RunCli,
                                                     scene: Scene) -> None:
    code, launched = cli(*launch_args("--create-network"))
    assert code == 0, problems(launched)
    code, data = cli("analyst", "attach", "--case-id", CASE, "--yes")
    assert code == 0, problems(data)
    ec2 = clients("ec2")
    iid = launched["analyst_instance_id"]
    analyst = _instance(ec2, iid)
    az = analyst["Placement"]["AvailabilityZone"]
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
    commands = "\n".join(c for v in data["volumes"] for c in v["commands"])
    assert "ro,noload" in commands and "ro,norecovery,nouuid" in commands


def test_the_suspect_has_no_path_to_the_analyst(clients: Any, cli: RunCli,
                                                scene: Scene) -> None:
    code, data = cli(*launch_args("--create-network"))
    assert code == 0, problems(data)
    ec2 = clients("ec2")
    analyst_sg = data["security_group_id"]
    [group] = ec2.describe_security_groups(GroupIds=[analyst_sg])["SecurityGroups"]
    assert group["IpPermissions"] == []
    [egress] = group["IpPermissionsEgress"]
    assert (egress["IpProtocol"], egress["FromPort"], egress["ToPort"]) == ("tcp", 443, 443)
    assert egress["IpRanges"] == [] and egress.get("Ipv6Ranges", []) == []
    endpoint_groups = {g for e in ec2.describe_vpc_endpoints(Filters=[
        {"Name": "vpc-id", "Values": [data["vpc_id"]]}])["VpcEndpoints"]
        for g in (x["GroupId"] for x in e.get("Groups", []))}
    assert {p["GroupId"] for p in egress["UserIdGroupPairs"]} == endpoint_groups
    assert len(egress["PrefixListIds"]) == 1
    [isolation] = ec2.describe_security_groups(GroupIds=[scene.isolation_group])[
        "SecurityGroups"]
    forensic_cidr = ec2.describe_vpcs(VpcIds=[data["vpc_id"]])["Vpcs"][0]["CidrBlock"]
    for rule in isolation["IpPermissionsEgress"]:
        assert analyst_sg not in {p["GroupId"] for p in rule.get("UserIdGroupPairs", [])}
        assert all(r["CidrIp"] in ("10.20.0.0/16",) or not _overlaps(r["CidrIp"],
                                                                     forensic_cidr)
                   for r in rule.get("IpRanges", []))
    assert data["vpc_id"] != scene.lab.vpc_id
    assert ec2.describe_vpc_peering_connections()["VpcPeeringConnections"] == []


def _overlaps(a: str, b: str) -> bool:
    import ipaddress

    return ipaddress.ip_network(a).overlaps(ipaddress.ip_network(b))


def _list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else sorted(value)
