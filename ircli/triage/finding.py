"""A GuardDuty finding, read from any of the shapes it travels in.

The same finding arrives as the raw JSON (console export, ``GetFindings``' ``Findings[0]``),
wrapped in an EventBridge event (``detail``), as a whole ``GetFindings`` response, in lists,
or as Security Hub ASFF; triage accepts each and keeps only the fields it uses, so a finding
with fewer fields still reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ircli.core.errors import InvalidInput
from ircli.triage.asff import from_asff, is_asff, is_guardduty_asff

_INSTANCE_IN_PRINCIPAL = re.compile(r":(i-[0-9a-f]{8,17})$")


@dataclass(frozen=True)
class RemoteEnd:
    """The other side of the activity: an address, a domain, or an API call, where present."""

    ip: str | None = None
    port: int | None = None
    country: str | None = None
    city: str | None = None
    organization: str | None = None
    direction: str | None = None  # INBOUND | OUTBOUND
    local_port: int | None = None
    local_port_name: str | None = None
    protocol: str | None = None
    domain: str | None = None
    api: str | None = None
    service: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass(frozen=True)
class Finding:
    raw: dict[str, Any]

    def _get(self, *path: str) -> Any:
        value: Any = self.raw
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def _text(self, *path: str) -> str | None:
        value = self._get(*path)
        return str(value) if value not in (None, "") else None

    @property
    def id(self) -> str:
        return str(self.raw.get("id") or "")

    @property
    def type(self) -> str:
        return str(self.raw["type"])

    @property
    def title(self) -> str:
        return str(self.raw.get("title") or self.type)

    @property
    def description(self) -> str:
        return str(self.raw.get("description") or "")

    @property
    def account(self) -> str | None:
        return self._text("accountId")

    @property
    def region(self) -> str | None:
        return self._text("region")

    @property
    def severity(self) -> float:
        return float(self.raw.get("severity") or 0)

    @property
    def severity_label(self) -> str:
        """GuardDuty's bands: Low 1.0-3.9, Medium 4.0-6.9, High 7.0-8.9, Critical 9.0-10.0."""
        s = self.severity
        return "Critical" if s >= 9 else "High" if s >= 7 else "Medium" if s >= 4 else "Low"

    @property
    def resource_type(self) -> str | None:
        return self._text("resource", "resourceType")

    @property
    def resource_role(self) -> str | None:
        role = self._get("service", "resourceRole")
        return str(role).upper() if role else None

    @property
    def count(self) -> int:
        return int(self._get("service", "count") or 1)

    @property
    def first_seen(self) -> str | None:
        return self._text("service", "eventFirstSeen")

    @property
    def last_seen(self) -> str | None:
        return self._text("service", "eventLastSeen")

    @property
    def instance(self) -> dict[str, Any]:
        return dict(self._get("resource", "instanceDetails") or {})

    @property
    def access_key(self) -> dict[str, Any]:
        return dict(self._get("resource", "accessKeyDetails") or {})

    @property
    def instance_id(self) -> str | None:
        """The instance, or the one whose role credentials the finding is about."""
        found = self.instance.get("instanceId")
        if found:
            return str(found)
        match = _INSTANCE_IN_PRINCIPAL.search(str(self.access_key.get("principalId") or ""))
        return match.group(1) if match else None

    @property
    def instance_name(self) -> str | None:
        for tag in self.instance.get("tags") or []:
            if tag.get("key") == "Name":
                return str(tag.get("value"))
        return None

    @property
    def network(self) -> dict[str, Any]:
        interfaces = self.instance.get("networkInterfaces") or [{}]
        return dict(interfaces[0])

    @property
    def vpc_id(self) -> str | None:
        value = self.network.get("vpcId")
        return str(value) if value else None

    @property
    def action_type(self) -> str | None:
        return self._text("service", "action", "actionType")

    @property
    def remote(self) -> RemoteEnd:
        action = self._get("service", "action") or {}
        network = action.get("networkConnectionAction") or {}
        api = action.get("awsApiCallAction") or {}
        probe = (action.get("portProbeAction") or {}).get("portProbeDetails") or [{}]
        dns = action.get("dnsRequestAction") or {}
        details = (network.get("remoteIpDetails") or api.get("remoteIpDetails")
                   or probe[0].get("remoteIpDetails") or {})
        local = network.get("localPortDetails") or probe[0].get("localPortDetails") or {}
        org = details.get("organization") or {}
        return RemoteEnd(
            ip=details.get("ipAddressV4") or details.get("ipAddressV6"),
            port=(network.get("remotePortDetails") or {}).get("port"),
            country=(details.get("country") or {}).get("countryName"),
            city=(details.get("city") or {}).get("cityName"),
            organization=org.get("asnOrg") or org.get("org") or org.get("isp"),
            direction=network.get("connectionDirection"),
            local_port=local.get("port"), local_port_name=local.get("portName"),
            protocol=network.get("protocol"), domain=dns.get("domain"),
            api=api.get("api"), service=api.get("serviceName"))

    # -- families beyond instances and IAM users (issue 15) ------------------------------
    @property
    def user_type(self) -> str | None:
        """``IAMUser``, ``AssumedRole``, ``FederatedUser``, ``Root``, ``IdentityCenterUser``…"""
        value = self.access_key.get("userType")
        return str(value) if value else None

    @property
    def role_name(self) -> str | None:
        """The role whose session the finding is about (AssumedRole credentials)."""
        if self.user_type not in ("AssumedRole", "IdentityCenterUser"):
            return None
        name = self.access_key.get("userName")
        return str(name) if name else None

    @property
    def bucket_name(self) -> str | None:
        """The first bucket an S3 finding names (``resource.s3BucketDetails``)."""
        buckets = self._get("resource", "s3BucketDetails") or [{}]
        name = buckets[0].get("name") if isinstance(buckets[0], dict) else None
        return str(name) if name else None

    @property
    def trail_name(self) -> str | None:
        """The trail an API-call finding says was affected (``affectedResources``)."""
        affected = self._get("service", "action", "awsApiCallAction", "affectedResources")
        if not isinstance(affected, dict):
            return None
        # the key reads "aWS::…" after the PascalCase folding of GetFindings answers
        value = next((v for k, v in affected.items()
                      if k.lower() == "aws::cloudtrail::trail"), None)
        return str(value) if value else None

    @property
    def function_name(self) -> str | None:
        """The Lambda function a Lambda Protection finding names (``lambdaDetails``)."""
        return self._text("resource", "lambdaDetails", "functionName")

    @property
    def db_identifier(self) -> str | None:
        """The DB instance an RDS Protection finding names (``rdsDbInstanceDetails``)."""
        return self._text("resource", "rdsDbInstanceDetails", "dbInstanceIdentifier")

    @property
    def cluster_name(self) -> str | None:
        return self._text("resource", "eksClusterDetails", "name") or \
            self._text("resource", "ecsClusterDetails", "name")

    @property
    def workload(self) -> dict[str, Any]:
        """The Kubernetes workload (pod, deployment…) the finding names, if any."""
        return dict(self._get("resource", "kubernetesDetails", "kubernetesWorkloadDetails")
                    or {})

    @property
    def is_container_finding(self) -> bool:
        """An EKS, ECS or container finding (rather than one about a plain instance)."""
        return self.resource_type in ("EKSCluster", "ECSCluster", "Container") or \
            bool(self.workload) or bool(self._get("resource", "containerDetails"))

    @property
    def node_affected(self) -> bool:
        """True when the finding says the node (the instance) itself is affected: an EC2
        resource, a container escape, a privileged or host-network pod, or no container named."""
        from ircli.triage.finding_types import NODE_ESCAPE_TYPES

        if not self.instance_id:
            return False
        if not self.is_container_finding or self.type in NODE_ESCAPE_TYPES:
            return True
        containers = self.workload.get("containers") or []
        privileged = any((c.get("securityContext") or {}).get("privileged")
                         for c in containers if isinstance(c, dict))
        named = bool(self.workload) or bool(self._get("resource", "containerDetails")) or \
            bool(self._get("service", "runtimeDetails", "process", "containerUuid"))
        return privileged or bool(self.workload.get("hostNetwork")) or not named

    def summary(self) -> dict[str, Any]:
        """What a result or a notification keeps of the finding."""
        return {"id": self.id, "type": self.type, "title": self.title,
                "severity": self.severity, "severity_label": self.severity_label,
                "account": self.account, "region": self.region,
                "resource_type": self.resource_type, "resource_role": self.resource_role,
                "arn": self.raw.get("arn")}


def parse_findings(document: Any) -> list[Finding]:
    """Every GuardDuty finding in a document, in every shape GuardDuty's findings travel in.

    The finding itself (console export, ``GetFindings``' PascalCase), its EventBridge event
    (with or without the envelope), a ``GetFindings`` response, Security Hub ASFF findings
    whose product is GuardDuty (alone, in a list, or in a ``GetFindings`` response of Security
    Hub), and lists of any of these.
    """
    found = [Finding(raw) for raw in _unwrap(document)]
    if not found:
        raise InvalidInput("The input holds no GuardDuty finding.",
                           "Pass the finding JSON, its EventBridge event, a list of findings, "
                           "or Security Hub (ASFF) findings of GuardDuty.")
    return found


def parse_finding(document: Any) -> Finding:
    """The one finding in ``document`` (see :func:`parse_findings`)."""
    findings = parse_findings(document)
    if len(findings) != 1:
        raise InvalidInput(f"The input holds {len(findings)} findings; this reads one.",
                           "Pass one finding (or one EventBridge event) at a time.")
    return findings[0]


def _unwrap(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, list):
        return [finding for item in document for finding in _unwrap(item)]
    if not isinstance(document, dict):
        raise InvalidInput("The input is not a GuardDuty finding (not a JSON object or list).",
                           "Pass the finding JSON, its EventBridge event, or --finding-id.")
    if "Findings" in document and isinstance(document["Findings"], list):
        return _unwrap(document["Findings"])
    if is_asff(document):
        if not is_guardduty_asff(document):
            raise InvalidInput(f"This Security Hub finding comes from "
                               f"{document.get('ProductName') or document.get('ProductArn')}, "
                               "not GuardDuty.", "Pass GuardDuty findings only.")
        return [from_asff(document)]
    if "detail" in document and isinstance(document["detail"], dict):
        if document.get("source") not in (None, "aws.guardduty"):
            raise InvalidInput(f"This EventBridge event comes from {document.get('source')}, "
                               "not GuardDuty.", "Pass a GuardDuty finding event.")
        return _unwrap(document["detail"])
    finding = _lower_keys(document)
    if "type" not in finding or "resource" not in finding:
        raise InvalidInput("The input is not a GuardDuty finding (no 'type' and 'resource').",
                           "Pass the finding JSON, its EventBridge event, or --finding-id.")
    return [finding]


def _lower_keys(value: Any) -> Any:
    """GetFindings answers in PascalCase (boto3), exports in camelCase: read both alike."""
    if isinstance(value, dict):
        return {(k[0].lower() + k[1:] if k and k[0].isupper() and not k.isupper() else k):
                _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value
