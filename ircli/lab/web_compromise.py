"""Seed the ``web-compromise`` scenario into any AWS endpoint (in practice: the emulator).

A web tier in an Auto Scaling group behind a target group; the suspect has two ENIs, three
volumes (one KMS-encrypted), an Elastic IP and an instance profile; a healthy neighbour shares
the groups; the VPC has SSM interface endpoints and an S3 gateway endpoint. The tests, the
benchmark and ``ircli lab`` all use this one builder.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

ASSUME_EC2 = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})


@dataclass
class WebCompromise:
    region: str
    vpc_id: str
    subnet_ids: list[str]
    web_sg: str
    endpoint_sg: str
    suspect: str
    neighbour: str
    suspect_enis: list[str]
    asg: str
    target_group_arn: str
    role: str
    profile_arn: str
    kms_key_id: str
    eip_allocation: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def lab_image(ec2: Any) -> str:
    """An Amazon Linux 2 image id (filtered: listing every emulated AMI takes seconds)."""
    images = ec2.describe_images(Owners=["amazon"], Filters=[
        {"Name": "name", "Values": ["amzn2-ami-hvm-2.0.20180810-x86_64-gp2"]}])["Images"]
    if not images:
        images = ec2.describe_images(Owners=["amazon"])["Images"]
    return str(images[0]["ImageId"])


def seed_web_compromise(clients: Any, region: str) -> WebCompromise:
    """Create the scenario; ``clients(service)`` returns a boto3 client."""
    ec2, iam = clients("ec2"), clients("iam")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24",
                                 AvailabilityZone=f"{region}{az}")["Subnet"]["SubnetId"]
               for i, az in ((1, "a"), (2, "b"))]
    web_sg = ec2.create_security_group(GroupName="web", Description="web tier",
                                       VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=web_sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    admin_sg = ec2.create_security_group(GroupName="admin", Description="admin access",
                                         VpcId=vpc)["GroupId"]
    endpoint_sg = ec2.create_security_group(GroupName="vpc-endpoints",
                                            Description="interface endpoints",
                                            VpcId=vpc)["GroupId"]
    for service in ("ssm", "ssmmessages", "ec2messages"):
        ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{region}.{service}",
                                VpcEndpointType="Interface", SubnetIds=subnets[:1],
                                SecurityGroupIds=[endpoint_sg], PrivateDnsEnabled=True)
    route_table = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
        "RouteTables"][0]["RouteTableId"]
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{region}.s3",
                            VpcEndpointType="Gateway", RouteTableIds=[route_table])
    role = "web-tier"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=ASSUME_EC2)
    profile = iam.create_instance_profile(InstanceProfileName="web-tier")["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName="web-tier", RoleName=role)
    kms_key = clients("kms").create_key(Description="web volumes")["KeyMetadata"]["KeyId"]
    image = lab_image(ec2)

    def launch(name: str, two_enis: bool, kms: bool) -> dict[str, Any]:
        interfaces = [{"DeviceIndex": 0, "SubnetId": subnets[0], "Groups": [web_sg, admin_sg]}]
        if two_enis:
            interfaces.append({"DeviceIndex": 1, "SubnetId": subnets[0], "Groups": [admin_sg]})
        volumes: list[dict[str, Any]] = [
            {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8, "DeleteOnTermination": True}},
            {"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 4, "DeleteOnTermination": True}}]
        if kms:
            volumes.append({"DeviceName": "/dev/sdg", "Ebs": {
                "VolumeSize": 2, "Encrypted": True, "KmsKeyId": kms_key,
                "DeleteOnTermination": False}})
        return dict(ec2.run_instances(
            ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.medium",
            NetworkInterfaces=interfaces, BlockDeviceMappings=volumes,
            IamInstanceProfile={"Arn": profile["Arn"]},
            TagSpecifications=[{"ResourceType": "instance",
                                "Tags": [{"Key": "Name", "Value": name}]}])["Instances"][0])

    suspect = launch("web-1", two_enis=True, kms=True)
    neighbour = launch("web-2", two_enis=False, kms=False)
    ids = [suspect["InstanceId"], neighbour["InstanceId"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=ids,
                                            WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
    suspect_enis = [n["NetworkInterfaceId"] for n in sorted(
        suspect["NetworkInterfaces"], key=lambda n: n["Attachment"]["DeviceIndex"])]
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=eip, NetworkInterfaceId=suspect_enis[0])

    asg = "web-asg"
    autoscaling = clients("autoscaling")
    ec2.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={
        "ImageId": image, "InstanceType": "t3.medium"})
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=asg, LaunchTemplate={"LaunchTemplateName": "web"},
        MinSize=0, MaxSize=4, DesiredCapacity=0, VPCZoneIdentifier=subnets[0])
    autoscaling.attach_instances(AutoScalingGroupName=asg, InstanceIds=ids)
    elbv2 = clients("elbv2")
    tg = elbv2.create_target_group(Name="web", Protocol="HTTPS", Port=443, VpcId=vpc,
                                   TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": i, "Port": 443} for i in ids])
    return WebCompromise(
        region=region, vpc_id=vpc, subnet_ids=subnets, web_sg=web_sg, endpoint_sg=endpoint_sg,
        suspect=suspect["InstanceId"], neighbour=neighbour["InstanceId"],
        suspect_enis=suspect_enis, asg=asg, target_group_arn=tg, role=role,
        profile_arn=profile["Arn"], kms_key_id=kms_key, eip_allocation=eip)
