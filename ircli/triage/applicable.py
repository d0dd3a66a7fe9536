"""Which target kinds a finding can be answered on: a runbook of another kind never matches.

Before this, a pod-only EKS finding matched the instance runbook (its type pattern did) and a
role's session matched the access-key runbook; now the finding's own fields decide the kind.
"""

from __future__ import annotations

from ircli.triage.finding import Finding

ROLE_USER_TYPES = ("AssumedRole", "FederatedUser", "IdentityCenterUser")


def fits(finding: Finding, kind: str) -> bool:
    """True when a runbook acting on ``kind`` can answer this finding."""
    pod_only = finding.is_container_finding and not finding.node_affected
    if kind == "instance":
        return not pod_only
    if kind == "container":
        return pod_only
    if kind == "access-key":
        return finding.user_type not in ROLE_USER_TYPES
    if kind == "role":
        return finding.user_type in ROLE_USER_TYPES
    if kind == "db":
        return finding.resource_type == "RDSDBInstance" or bool(finding.db_identifier)
    if kind == "function":
        return finding.resource_type == "Lambda" or bool(finding.function_name)
    if kind == "trail":
        return bool(finding.trail_name) or finding.type.endswith("/CloudTrailLoggingDisabled")
    if kind == "bucket":
        return finding.resource_type in ("S3Bucket", "S3Object") or bool(finding.bucket_name)
    return True
