"""Issue 11, item 15: what the security-group swap cannot cut. A C2 session through a NAT
gateway stays tracked; ircli denies the instance's address on the NAT gateway's subnet ACL (and
release removes exactly that), names the paths it cannot cut, and says what SGs never filter."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from ircli.core.errors import ExitCode
from ircli.lab.web_compromise import lab_image, seed_web_compromise
from tests.helpers import ircli, run_contain, run_release

REGION = "us-east-1"


@dataclass
class NatVpc:
    vpc: str
    private: str
    public: str
    nat: str
    public_acl: str
    suspect: str
    address: str


def acl_state(ec2: Any, acl: str) -> tuple[set[tuple[Any, ...]], dict[str, str]]:
    [found] = ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"]
    entries = {(e["RuleNumber"], e["Egress"], e["RuleAction"], e.get("CidrBlock"))
               for e in found["Entries"]}
    return entries, {t["Key"]: t["Value"] for t in found.get("Tags", [])}


@pytest.fixture
def nat_vpc(clients: Any) -> NatVpc:
    """A private subnet whose default route goes through a NAT gateway in a public subnet that
    has its own network ACL; the suspect runs in the private subnet."""
    ec2 = clients("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.70.0.0/16")["Vpc"]["VpcId"]
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.70.0.0/24")["Subnet"]["SubnetId"]
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.70.1.0/24")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=eip)["NatGateway"]["NatGatewayId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    ec2.associate_route_table(RouteTableId=table, SubnetId=private)
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    for egress in (False, True):
        ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Protocol="-1",
                                     RuleAction="allow", Egress=egress, CidrBlock="0.0.0.0/0")
    association = next(a["NetworkAclAssociationId"] for a in ec2.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": [public]}])["NetworkAcls"][0][
        "Associations"] if a["SubnetId"] == public)
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl)
    sg = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)["GroupId"]
    instance = ec2.run_instances(ImageId=lab_image(ec2), MinCount=1, MaxCount=1,
                                 NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": private,
                                                     "Groups": [sg]}])["Instances"][0]
    return NatVpc(vpc, private, public, nat, acl, instance["InstanceId"],
                  instance["PrivateIpAddress"])


def test_nat_gateway_path_is_cut_on_its_subnet_acl_and_release_undoes_exactly_that(
        clients: Any, nat_vpc: NatVpc) -> None:
    ec2 = clients("ec2")
    before = acl_state(ec2, nat_vpc.public_acl)

    result = run_contain(nat_vpc.suspect, case_id="case-1", snapshot=False)

    assert result.exit_code == ExitCode.OK, result.data["steps"]
    entries, tags = acl_state(ec2, nat_vpc.public_acl)
    cidr = f"{nat_vpc.address}/32"
    assert entries - before[0] == {(50, False, "deny", cidr), (50, True, "deny", cidr)}
    assert tags == {**before[1], "ircli:contain:50": f"{nat_vpc.address}|case-1|"
                                                     f"{nat_vpc.suspect}"}
    assert result.data["isolation"] == {"complete": True, "open_paths": [],
                                        "cut_paths": [f"NAT gateway {nat_vpc.nat}"]}
    again = run_contain(nat_vpc.suspect, case_id="case-1", snapshot=False)
    assert acl_state(ec2, nat_vpc.public_acl)[0] == entries  # nothing added twice
    assert {s["name"]: s["status"] for s in again.data["steps"]}["cut-tracked-paths"] == \
        "already-done"

    released = run_release(nat_vpc.suspect, case_id="case-1")

    assert released.exit_code == ExitCode.OK, [(s["name"], s["detail"]) for s in released.data[
        "steps"] if s["status"] == "failed"]
    assert acl_state(ec2, nat_vpc.public_acl) == before


def test_transit_gateway_path_is_named_and_isolation_is_not_called_complete(
        capsys: pytest.CaptureFixture[str], clients: Any, nat_vpc: NatVpc) -> None:
    ec2 = clients("ec2")
    tgw = ec2.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
    table = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id",
                                                "Values": [nat_vpc.private]}])[
        "RouteTables"][0]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="172.16.0.0/12",
                     TransitGatewayId=tgw)

    out = ircli(capsys, "contain", nat_vpc.suspect, "--yes", "--no-snapshot",
                json_output=False)

    assert out.code == ExitCode.OK, out.err
    text = out.out + out.err
    assert "Time to isolation: INCOMPLETE" in text and tgw in text
    data = run_contain(nat_vpc.suspect, snapshot=False).data
    assert data["isolation"]["complete"] is False
    assert any(w.startswith("ISOLATION INCOMPLETE") and tgw in w for w in data["warnings"])


def test_dns_metadata_and_an_open_s3_endpoint_policy_are_warned_about(clients: Any) -> None:
    ec2 = clients("ec2")
    lab = seed_web_compromise(clients, REGION)
    [endpoint] = [e for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]
                  if e["VpcEndpointType"] == "Gateway"]
    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint["VpcEndpointId"], PolicyDocument=json.dumps({
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}))

    result = run_contain(lab.suspect, snapshot=False)

    warnings = result.data["warnings"]
    assert any("Route 53 Resolver DNS Firewall" in w and "metadata" in w for w in warnings)
    assert any(endpoint["VpcEndpointId"] in w and "any bucket" in w for w in warnings)


def test_a_bucket_scoped_s3_endpoint_policy_is_not_warned_about(clients: Any) -> None:
    ec2 = clients("ec2")
    lab = seed_web_compromise(clients, REGION)
    [endpoint] = [e for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]
                  if e["VpcEndpointType"] == "Gateway"]
    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint["VpcEndpointId"], PolicyDocument=json.dumps({
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
                       "Resource": "arn:aws:s3:::acme-ir-evidence/*"}]}))
    result = run_contain(lab.suspect, snapshot=False)
    assert not any("any bucket" in w for w in result.data["warnings"])


def test_a_privatelink_endpoint_to_a_foreign_service_is_named_as_an_open_path(
        clients: Any, nat_vpc: NatVpc) -> None:
    ec2 = clients("ec2")
    service = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"  # someone's service
    endpoint = ec2.create_vpc_endpoint(VpcId=nat_vpc.vpc, ServiceName=service,
                                       VpcEndpointType="Interface", SubnetIds=[nat_vpc.public])[
        "VpcEndpoint"]["VpcEndpointId"]
    data = run_contain(nat_vpc.suspect, snapshot=False).data
    assert data["isolation"]["complete"] is False
    assert f"PrivateLink endpoint {endpoint} ({service})" in data["isolation"]["open_paths"]
