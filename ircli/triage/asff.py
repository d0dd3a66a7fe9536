"""GuardDuty findings as Security Hub publishes them (ASFF), read back into GuardDuty's shape.

Security Hub keeps GuardDuty's own fields flattened in ``ProductFields``
(``aws/guardduty/service/action/networkConnectionAction/remoteIpDetails/ipAddressV4``…), the
type in ``Types`` with its ``/`` turned into ``-`` (``TTPs/Initial Access/
UnauthorizedAccess:EC2-SSHBruteForce``), and the resource in ``Resources``. Rebuilding the
GuardDuty finding from them lets one triage read every shape; fields Security Hub dropped
are simply absent, as in a sparse finding.
"""

from __future__ import annotations

import re
from typing import Any

_SERVICE_PREFIX = "aws/guardduty/service/"
_INSTANCE_ARN = re.compile(r":instance/(i-[0-9a-f]+)$")
_NUMERIC_KEYS = ("port", "count", "asn")


def is_asff(document: Any) -> bool:
    return isinstance(document, dict) and "SchemaVersion" in document and \
        "ProductArn" in document


def is_guardduty_asff(document: dict[str, Any]) -> bool:
    fields = document.get("ProductFields") or {}
    return "/guardduty" in str(document.get("ProductArn", "")) or \
        fields.get("aws/securityhub/ProductName") == "GuardDuty" or \
        document.get("ProductName") == "GuardDuty"


def guardduty_type(asff: dict[str, Any]) -> str:
    """``TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce`` → the GuardDuty type."""
    types = asff.get("Types") or (asff.get("FindingProviderFields") or {}).get("Types") or []
    last = str(types[0]).rsplit("/", 1)[-1] if types else ""
    threat, sep, rest = last.partition(":")
    if not sep:
        return last
    # GuardDuty resource tokens (EC2, IAMUser, S3, Kubernetes, Runtime, Lambda…) hold no "-".
    return f"{threat}:{rest.replace('-', '/', 1)}"


def from_asff(asff: dict[str, Any]) -> dict[str, Any]:
    """The GuardDuty finding (camelCase, as exported) that this ASFF finding carries."""
    fields = asff.get("ProductFields") or {}
    service = _unflatten({k[len(_SERVICE_PREFIX):]: v for k, v in fields.items()
                          if k.startswith(_SERVICE_PREFIX)})
    severity = (asff.get("Severity") or {})
    finding_arn = str(asff.get("Id") or fields.get("aws/securityhub/FindingId") or "")
    return {
        "id": finding_arn.rsplit("/", 1)[-1],
        "arn": finding_arn,
        "type": guardduty_type(asff),
        "title": asff.get("Title"),
        "description": asff.get("Description"),
        "accountId": asff.get("AwsAccountId"),
        "region": asff.get("Region"),
        "severity": severity.get("Product") or (severity.get("Normalized") or 0) / 10,
        "resource": _resource(asff.get("Resources") or []),
        "service": service,
    }


def _resource(resources: list[dict[str, Any]]) -> dict[str, Any]:
    for res in resources:
        kind = res.get("Type")
        details = res.get("Details") or {}
        if kind == "AwsEc2Instance":
            ec2 = details.get("AwsEc2Instance") or {}
            match = _INSTANCE_ARN.search(str(res.get("Id", "")))
            tags = res.get("Tags") or {}
            return {"resourceType": "Instance", "instanceDetails": {
                "instanceId": match.group(1) if match else None,
                "instanceType": ec2.get("Type"), "imageId": ec2.get("ImageId"),
                "tags": [{"key": k, "value": v} for k, v in tags.items()],
                "networkInterfaces": [{"vpcId": ec2.get("VpcId"),
                                       "subnetId": ec2.get("SubnetId")}]}}
        if kind == "AwsIamAccessKey":
            key = details.get("AwsIamAccessKey") or {}
            return {"resourceType": "AccessKey", "accessKeyDetails": {
                "accessKeyId": key.get("AccessKeyId") or str(res.get("Id", "")).rsplit(
                    "/", 1)[-1],
                "principalId": key.get("PrincipalId"), "userName": key.get("PrincipalName")
                or key.get("UserName"), "userType": key.get("PrincipalType")}}
    first = resources[0] if resources else {}
    return {"resourceType": str(first.get("Type", "Unknown"))}


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"action/actionType": "X"}`` → ``{"action": {"actionType": "X"}}``; numbers typed."""
    tree: dict[str, Any] = {}
    for path, value in sorted(flat.items()):
        parts = path.split("/")
        node = tree
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        leaf = parts[-1]
        if isinstance(value, str) and value.isdigit() and leaf.lower().endswith(_NUMERIC_KEYS):
            node[leaf] = int(value)
        elif isinstance(value, str) and value in ("true", "false"):
            node[leaf] = value == "true"
        else:
            node[leaf] = value
    result = _lists(tree)
    return result if isinstance(result, dict) else {}


def _lists(node: Any) -> Any:
    """Numbered keys (``portProbeDetails/0/…``) become lists again."""
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted
