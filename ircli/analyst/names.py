"""Names and tags of what the analyst commands create, so every re-run finds and reuses it."""

from __future__ import annotations

import hashlib

from ircli.steps.names import TAG_CASE, TAG_MANAGED

TAG_PURPOSE = "ircli:purpose"
TAG_SOURCE_SNAPSHOT = "ircli:source-snapshot"
TAG_SOURCE_VOLUME = "ircli:source-volume"
TAG_ANALYST_INSTANCE = "ircli:analyst-instance"

PURPOSE_NETWORK = "forensic-network"
PURPOSE_WORKSTATION = "analyst-workstation"
PURPOSE_EVIDENCE_COPY = "evidence-copy"

FORENSIC_VPC = "ircli-forensic-vpc"
FORENSIC_SUBNET = "ircli-forensic-private"
FORENSIC_ROUTES = "ircli-forensic-private"
ENDPOINT_GROUP = "ircli-forensic-endpoints"
ANALYST_GROUP = "ircli-analyst"
FORENSIC_CIDR = "10.254.0.0/16"
SUBNET_CIDR = "10.254.0.0/24"
SSM_SERVICES = ("ssm", "ssmmessages", "ec2messages")

# AWS's public parameters for the current Amazon Linux 2023, per CPU architecture.
AMI_PARAMETERS = {arch: f"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}"
                  for arch in ("x86_64", "arm64")}
AMI_PARAMETER = AMI_PARAMETERS["x86_64"]
DEFAULT_INSTANCE_TYPE = "t3.large"
SSM_CORE_POLICY = "AmazonSSMManagedInstanceCore"
EVIDENCE_POLICY = "ircli-evidence-read"
# Where AWS recommends attaching extra EBS volumes on Linux; one name per evidence copy.
DEVICES = tuple(f"/dev/sd{letter}" for letter in "fghijklmnop")

_IAM_NAME_MAX = 64


def analyst_role_name(case_id: str) -> str:
    """One role (and instance profile, same name) per case: it reads that case and no other."""
    name = f"ircli-analyst-{case_id}"
    if len(name) <= _IAM_NAME_MAX:
        return name
    digest = hashlib.sha256(case_id.encode()).hexdigest()[:8]
    return f"{name[:_IAM_NAME_MAX - 9]}-{digest}"


def analyst_instance_name(case_id: str) -> str:
    return f"ircli-analyst-{case_id}"


def client_token(case_id: str, generation: int) -> str:
    """RunInstances' idempotency token: a retried call never starts a second instance."""
    digest = hashlib.sha256(case_id.encode()).hexdigest()[:24]
    return f"ircli-analyst-{digest}-{generation}"


def tags(name: str, purpose: str, case_id: str | None = None,
         extra: dict[str, str] | None = None) -> list[dict[str, str]]:
    """The tag set every analyst resource carries; ``extra`` maps more tag keys to values."""
    found = {"Name": name, TAG_MANAGED: "true", TAG_PURPOSE: purpose, **(extra or {})}
    if case_id:
        found[TAG_CASE] = case_id
    return [{"Key": k, "Value": v} for k, v in found.items()]


def tag_spec(resource_type: str, tag_list: list[dict[str, str]]) -> list[dict[str, object]]:
    return [{"ResourceType": resource_type, "Tags": tag_list}]
