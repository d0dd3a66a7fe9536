"""GuardDuty findings for the lab's scenarios, in GuardDuty's documented finding format.

The emulator has no GuardDuty detections, so each scenario writes the finding a real detector
would have raised for it; `ircli triage` reads them like any exported finding.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from ircli.core.clock import iso

ACCOUNT = "123456789012"
DETECTOR = "12abc34d567e8fa901bc2d34eexample"


def _envelope(kind: str, title: str, description: str, severity: float, region: str,
              resource: dict[str, Any], action: dict[str, Any], role: str,
              now: datetime) -> dict[str, Any]:
    finding_id = uuid.uuid4().hex
    stamp = iso(now).replace(".000000", "")
    return {
        "schemaVersion": "2.0",
        "accountId": ACCOUNT,
        "region": region,
        "partition": "aws",
        "id": finding_id,
        "arn": f"arn:aws:guardduty:{region}:{ACCOUNT}:detector/{DETECTOR}/finding/{finding_id}",
        "type": kind,
        "resource": resource,
        "service": {
            "serviceName": "guardduty", "detectorId": DETECTOR, "action": action,
            "archived": False, "count": 1, "eventFirstSeen": stamp, "eventLastSeen": stamp,
            "resourceRole": role, "additionalInfo": {"sample": False, "source": "ircli lab"},
        },
        "severity": severity,
        "createdAt": stamp,
        "updatedAt": stamp,
        "title": title,
        "description": description,
    }


def _remote(ip: str, country: str, org: str) -> dict[str, Any]:
    return {"ipAddressV4": ip, "country": {"countryName": country},
            "organization": {"asnOrg": org, "org": org, "isp": org}}


def instance_resource(instance: dict[str, Any]) -> dict[str, Any]:
    """``resource`` for an EC2 finding, built from DescribeInstances output."""
    return {
        "resourceType": "Instance",
        "instanceDetails": {
            "instanceId": instance["InstanceId"],
            "instanceType": instance.get("InstanceType"),
            "instanceState": instance.get("State", {}).get("Name"),
            "availabilityZone": instance.get("Placement", {}).get("AvailabilityZone"),
            "imageId": instance.get("ImageId"),
            "iamInstanceProfile": instance.get("IamInstanceProfile"),
            "tags": [{"key": t["Key"], "value": t["Value"]} for t in instance.get("Tags", [])],
            "networkInterfaces": [{
                "networkInterfaceId": n["NetworkInterfaceId"], "vpcId": n.get("VpcId"),
                "subnetId": n.get("SubnetId"), "privateIpAddress": n.get("PrivateIpAddress"),
                "securityGroups": [{"groupId": g["GroupId"], "groupName": g["GroupName"]}
                                   for g in n.get("Groups", [])],
            } for n in instance.get("NetworkInterfaces", [])],
        },
    }


def c2_activity(instance: dict[str, Any], region: str, now: datetime) -> dict[str, Any]:
    """The web-compromise alert: the instance talks to a command-and-control server."""
    return _envelope(
        "Backdoor:EC2/C&CActivity.B", "Command and control server IP queried.",
        f"EC2 instance {instance['InstanceId']} is communicating with a known command and "
        "control server.", 8.0, region, instance_resource(instance),
        {"actionType": "NETWORK_CONNECTION", "networkConnectionAction": {
            "connectionDirection": "OUTBOUND", "protocol": "TCP", "blocked": False,
            "remoteIpDetails": _remote("185.220.101.66",
                                       "Netherlands", "Example Bulletproof Hosting"),
            "remotePortDetails": {"port": 443, "portName": "HTTPS"},
            "localPortDetails": {"port": 49152, "portName": "Unknown"}}},
        "ACTOR", now)


def ssh_brute_force(instance: dict[str, Any], attacker: str, region: str,
                    now: datetime) -> dict[str, Any]:
    return _envelope(
        "UnauthorizedAccess:EC2/SSHBruteForce", "SSH brute force attacks against instance.",
        f"{attacker} is performing SSH brute force attacks against "
        f"{instance['InstanceId']}.", 2.0, region, instance_resource(instance),
        {"actionType": "NETWORK_CONNECTION", "networkConnectionAction": {
            "connectionDirection": "INBOUND", "protocol": "TCP", "blocked": False,
            "remoteIpDetails": _remote(attacker, "Russia", "Example Transit"),
            "remotePortDetails": {"port": 53122, "portName": "Unknown"},
            "localPortDetails": {"port": 22, "portName": "SSH"}}},
        "TARGET", now)


def leaked_key(user: str, access_key_id: str, caller_ip: str, region: str,
               now: datetime) -> dict[str, Any]:
    return _envelope(
        "UnauthorizedAccess:IAMUser/MaliciousIPCaller",
        "API ListBuckets was invoked from a known malicious IP address.",
        f"API ListBuckets was invoked with access key {access_key_id} of user {user} from a "
        f"known malicious IP address {caller_ip}.", 5.0, region,
        {"resourceType": "AccessKey", "accessKeyDetails": {
            "accessKeyId": access_key_id, "principalId": f"AIDA{access_key_id[4:]}",
            "userName": user, "userType": "IAMUser"}},
        {"actionType": "AWS_API_CALL", "awsApiCallAction": {
            "api": "ListBuckets", "serviceName": "s3.amazonaws.com", "callerType": "Remote IP",
            "remoteIpDetails": _remote(caller_ip, "Unknown", "Example Anonymizer")}},
        "ACTOR", now)
