"""``runbook coverage``: every GuardDuty finding type, the runbook that answers it, or why none.

Each type is matched the way triage matches a real finding, in each shape that changes the
answer: an EC2 type as the target and as the actor, an IAM type for an IAM user and for an
assumed role, a Kubernetes or Runtime type on the node and on a pod alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from ircli.runbook.kinds import KINDS
from ircli.runbook.model import Runbook
from ircli.triage.applicable import fits
from ircli.triage.finding import Finding
from ircli.triage.finding_types import FAMILIES, SOURCE, UNANSWERED
from ircli.triage.match import match_runbook

_INSTANCE = {"instanceId": "i-0123456789abcdef0",
             "networkInterfaces": [{"vpcId": "vpc-0123456789abcdef0"}]}
_ROLE_KEY = {"accessKeyId": "ASIAIOSFODNN7EXAMPLE", "principalId": "AROAEXAMPLE:session",
             "userName": "app-role", "userType": "AssumedRole"}
_USER_KEY = {"accessKeyId": "AKIAIOSFODNN7EXAMPLE", "principalId": "AIDAEXAMPLE",
             "userName": "alice", "userType": "IAMUser"}
_CLUSTER = {"name": "prod-cluster"}
_POD = {"name": "web-7d4b9c", "namespace": "default", "type": "pods"}

# (when, resource) per family: the shapes of finding whose answer may differ.
_SHAPES: dict[str, list[tuple[str, dict[str, Any], str | None]]] = {
    "ec2": [("resource role TARGET", {"resourceType": "Instance",
                                      "instanceDetails": _INSTANCE}, "TARGET"),
            ("resource role ACTOR", {"resourceType": "Instance",
                                     "instanceDetails": _INSTANCE}, "ACTOR")],
    "iam": [("IAM user", {"resourceType": "AccessKey", "accessKeyDetails": _USER_KEY}, None),
            ("assumed role", {"resourceType": "AccessKey", "accessKeyDetails": _ROLE_KEY},
             None)],
    # EKS audit-log findings are about API calls: they name the cluster, often a workload.
    "kubernetes": [
        ("workload named", {"resourceType": "EKSCluster", "eksClusterDetails": _CLUSTER,
                            "kubernetesDetails": {"kubernetesWorkloadDetails": _POD}}, None),
        ("cluster only", {"resourceType": "EKSCluster", "eksClusterDetails": _CLUSTER}, None)],
}
_SHAPES["runtime"] = [
    ("node affected", {"resourceType": "Instance", "instanceDetails": _INSTANCE}, None),
    ("pod only", {"resourceType": "EKSCluster", "eksClusterDetails": _CLUSTER,
                  "instanceDetails": _INSTANCE,
                  "kubernetesDetails": {"kubernetesWorkloadDetails": _POD}}, None)]
_SHAPES["malware"] = [_SHAPES["runtime"][0]]
_SHAPES["rds"] = [("", {"resourceType": "RDSDBInstance",
                        "rdsDbInstanceDetails": {"dbInstanceIdentifier": "orders-db"}}, None)]
_SHAPES["lambda"] = [("", {"resourceType": "Lambda",
                           "lambdaDetails": {"functionName": "orders-api"}}, None)]
_SHAPES["s3"] = [("", {"resourceType": "S3Bucket",
                       "s3BucketDetails": [{"name": "acme-exports"}]}, None)]
_DEFAULT = [("", {"resourceType": "Other"}, None)]


@dataclass
class Coverage:
    finding_type: str
    family: str
    answers: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None

    @property
    def answered(self) -> bool:
        """Every shape has a runbook, or the type has a stated reason."""
        return self.reason is not None or all(a["runbook"] for a in self.answers)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.finding_type, "family": self.family, "answers": self.answers,
                "reason": self.reason, "answered": self.answered}


def synthetic_finding(finding_type: str, resource: dict[str, Any],
                      role: str | None) -> Finding:
    service: dict[str, Any] = {"resourceRole": role} if role else {}
    return Finding({"type": finding_type, "id": "coverage", "resource": resource,
                    "service": service})


def reason_for(finding_type: str) -> str | None:
    for pattern, reason in UNANSWERED:
        if fnmatchcase(finding_type, pattern):
            return reason
    return None


def coverage(runbooks: list[Runbook]) -> list[Coverage]:
    """One row per known finding type, in the order of :mod:`ircli.triage.finding_types`."""
    usable = [r for r in runbooks if r.valid and r.target in KINDS]
    rows = []
    for family, types in FAMILIES.items():
        for finding_type in types:
            row = Coverage(finding_type, family)
            for when, resource, role in _SHAPES.get(family, _DEFAULT):
                finding = synthetic_finding(finding_type, resource, role)
                match = match_runbook(finding, [r for r in usable if fits(finding, r.target)])
                row.answers.append({"when": when,
                                    "runbook": match.runbook.name if match else None,
                                    "target": match.runbook.target if match else None})
            if not all(a["runbook"] for a in row.answers):
                row.reason = reason_for(finding_type)
            rows.append(row)
    return rows


def coverage_document(runbooks: list[Runbook]) -> dict[str, Any]:
    rows = coverage(runbooks)
    return {"source": SOURCE, "types": len(rows),
            "answered_by_runbook": sum(all(a["runbook"] for a in r.answers) for r in rows),
            "with_reason": sum(r.reason is not None for r in rows),
            "unanswered": [r.finding_type for r in rows if not r.answered],
            "coverage": [r.to_dict() for r in rows]}
