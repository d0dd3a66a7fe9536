"""--subnet, bad input and missing prerequisites: refused before anything changes (exit 2)."""

from __future__ import annotations

from typing import Any

from ircli.analyst import names as n
from tests.analyst.conftest import CASE, RunCli, Scene, launch_args, problems


def test_subnet_of_the_suspects_vpc_is_refused_and_another_vpc_works_with_warnings(
        clients: Any, cli: RunCli, scene: Scene) -> None:
    ec2, iam = clients("ec2"), clients("iam")
    code, data = cli(*launch_args("--subnet", scene.lab.subnet_ids[1]))
    assert code == 2 and "VPC of the contained instance" in data["error"]["message"]
    assert not [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("ircli-")]
    assert not ec2.describe_security_groups(Filters=[
        {"Name": "group-name", "Values": [n.ANALYST_GROUP]}])["SecurityGroups"]
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24")["Subnet"]["SubnetId"]
    code, data = cli(*launch_args("--subnet", subnet, "--instance-type", "t4g.large"))
    assert code == 0, problems(data)
    assert (data["vpc_id"], data["subnet_id"]) == (vpc, subnet)
    instance = ec2.describe_instances(InstanceIds=[data["analyst_instance_id"]])[
        "Reservations"][0]["Instances"][0]
    arm64 = clients("ssm").get_parameter(Name=n.AMI_PARAMETERS["arm64"])["Parameter"]["Value"]
    assert (instance["InstanceType"], instance["ImageId"]) == ("t4g.large", arm64)
    assert any("lacks SSM interface endpoints" in w for w in data["warnings"])
    assert any("no S3 gateway endpoint" in w for w in data["warnings"])
    [group] = ec2.describe_security_groups(GroupIds=[data["security_group_id"]])[
        "SecurityGroups"]
    assert group["VpcId"] == vpc
    assert group["IpPermissions"] == [] and group["IpPermissionsEgress"] == []
    assert not ec2.describe_vpcs(Filters=[{"Name": "tag:Name",
                                           "Values": [n.FORENSIC_VPC]}])["Vpcs"]


def test_a_changed_analyst_group_and_role_are_brought_back(clients: Any, cli: RunCli,
                                                          scene: Scene) -> None:
    code, data = cli(*launch_args("--create-network"))
    assert code == 0, problems(data)
    ec2, iam = clients("ec2"), clients("iam")
    sg, role = data["security_group_id"], data["role_arn"].rsplit("/", 1)[-1]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    iam.put_role_policy(RoleName=role, PolicyName="extra", PolicyDocument=(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", '
        '"Resource": "*"}]}'))
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    code, again = cli(*launch_args("--create-network"))
    assert code == 0, problems(again)
    assert any("had inbound rules" in w for w in again["warnings"])
    assert ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0][
        "IpPermissions"] == []
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == [n.EVIDENCE_POLICY]
    assert [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=role)[
        "AttachedPolicies"]] == [n.SSM_CORE_POLICY]
    assert again["analyst_instance_id"] == data["analyst_instance_id"]


def test_input_errors_exit_2(clients: Any, cli: RunCli) -> None:
    code, data = cli("analyst", "launch", "--case-id", CASE, "--yes")
    assert code == 2 and "--create-network" in data["error"]["remediation"]
    code, data = cli("analyst", "launch", "--case-id", CASE, "--yes", "--create-network",
                     "--subnet", "subnet-12345678")
    assert code == 2
    code, data = cli("analyst", "launch", "--case-id", CASE, "--yes", "--subnet", "vpc-1")
    assert code == 2 and "not a subnet id" in data["error"]["message"]
    code, data = cli("analyst", "launch", "--case-id", "no-such-case", "--yes",
                     "--create-network")
    assert code == 2 and "no case 'no-such-case'" in data["error"]["message"]
    code, data = cli("analyst", "attach", "--case-id", CASE, "--instance-id", "i-1")
    assert code == 2 and "not an EC2 instance id" in data["error"]["message"]


def test_attach_needs_an_analyst_and_refuses_other_instances(clients: Any, cli: RunCli,
                                                            scene: Scene) -> None:
    code, data = cli(*launch_args("--create-network", "--instance-type", "x9.bogus"))
    assert code == 2 and "offers x9.bogus" in data["error"]["message"]
    assert not clients("ec2").describe_vpcs(Filters=[{"Name": "tag:Name",
                                                      "Values": [n.FORENSIC_VPC]}])["Vpcs"]
    code, data = cli("analyst", "attach", "--case-id", CASE, "--yes")
    assert code == 2 and "has no analyst instance" in data["error"]["message"]
    assert "analyst launch" in data["error"]["remediation"]
    code, data = cli("analyst", "attach", "--case-id", CASE, "--yes", "--instance-id",
                     scene.lab.neighbour)
    assert code == 2 and "not an ircli analyst instance" in data["error"]["message"]
    code, data = cli("analyst", "terminate", "--case-id", CASE, "--yes", "--instance-id",
                     scene.lab.suspect)
    assert code == 2
    state = clients("ec2").describe_instances(InstanceIds=[scene.lab.suspect])[
        "Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "running"
