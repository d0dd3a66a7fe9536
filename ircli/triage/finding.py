"""A GuardDuty finding, read from any of the shapes it travels in.

The same finding arrives as the raw JSON (console export, ``GetFindings``' ``Findings[0]``),
wrapped in an EventBridge event (``detail``), or as a whole ``GetFindings`` response; triage
accepts each and keeps only the fields it uses, so a finding with fewer fields still reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ircli.core.errors import InvalidInput

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

    def summary(self) -> dict[str, Any]:
        """What a result or a notification keeps of the finding."""
        return {"id": self.id, "type": self.type, "title": self.title,
                "severity": self.severity, "severity_label": self.severity_label,
                "account": self.account, "region": self.region,
                "resource_type": self.resource_type, "resource_role": self.resource_role,
                "arn": self.raw.get("arn")}


def parse_finding(document: Any) -> Finding:
    """The one finding in an EventBridge event, a GetFindings response, a list, or raw JSON."""
    if isinstance(document, dict) and "detail" in document and "detail-type" in document:
        if document.get("source") not in (None, "aws.guardduty"):
            raise InvalidInput(f"This EventBridge event comes from {document.get('source')}, "
                               "not GuardDuty.", "Pass a GuardDuty finding event.")
        document = document["detail"]
    if isinstance(document, dict) and "Findings" in document:
        document = document["Findings"]
    if isinstance(document, list):
        if len(document) != 1:
            raise InvalidInput(f"The input holds {len(document)} findings; triage reads one.",
                               "Pass one finding (or one EventBridge event) at a time.")
        document = document[0]
    document = _lower_keys(document)
    if not isinstance(document, dict) or "type" not in document or "resource" not in document:
        raise InvalidInput("The input is not a GuardDuty finding (no 'type' and 'resource').",
                           "Pass the finding JSON, its EventBridge event, or --finding-id.")
    return Finding(document)


def _lower_keys(value: Any) -> Any:
    """GetFindings answers in PascalCase (boto3), exports in camelCase: read both alike."""
    if isinstance(value, dict):
        return {(k[0].lower() + k[1:] if k and k[0].isupper() and not k.isupper() else k):
                _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value
