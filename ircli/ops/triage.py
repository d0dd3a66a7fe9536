"""``triage``: from a GuardDuty finding to the runbook that answers it, and its plan.

Triage derives the runbook's target from the finding (the instance, the access key, the
remote address and the VPC it came at), then plans or runs the runbook through
:func:`ircli.ops.runbook.run_runbook` like ``ircli runbook run`` would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ircli.core.errors import UserError
from ircli.core.session import AwsSession
from ircli.ops.runbook import RunbookOptions
from ircli.runbook.kinds import KINDS
from ircli.runbook.model import Runbook
from ircli.triage.applicable import fits
from ircli.triage.coverage import reason_for
from ircli.triage.describe import look_up_names, report
from ircli.triage.finding import Finding
from ircli.triage.match import Match, closest_runbooks, match_runbook


@dataclass
class Triage:
    finding: Finding
    report: dict[str, Any]
    match: Match | None
    closest: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**self.report, "runbook": self.match.to_dict() if self.match else None,
                "closest": self.closest}


def triage(aws: AwsSession, finding: Finding, runbooks: list[Runbook]) -> Triage:
    """Describe the finding and pick its runbook (or the closest ones); changes nothing."""
    names = look_up_names(aws, finding)
    usable = [r for r in runbooks if r.target in KINDS and fits(finding, r.target)]
    match = match_runbook(finding, usable)
    closest = [] if match else closest_runbooks(finding, usable)
    described = report(finding, names)
    if match is None:  # why no runbook answers it, as `runbook coverage` states it
        described["no_runbook_reason"] = reason_for(finding.type)
    return Triage(finding, described, match, closest)


def finding_target(finding: Finding, runbook: Runbook) -> str:
    """The id the runbook acts on, taken from the finding."""
    if runbook.target == "instance":
        if finding.instance_id:
            return finding.instance_id
        raise UserError(f"The finding names no EC2 instance, and runbook {runbook.name} acts "
                        "on one.", "Run `ircli runbook run` with --target yourself.")
    if runbook.target == "access-key":
        key = finding.access_key
        if key.get("userType") not in (None, "IAMUser") or not key.get("accessKeyId"):
            raise UserError(
                f"The credentials in this finding belong to {key.get('userType')} "
                f"{key.get('userName')}, not to an IAM user's access key.",
                "For a role's sessions run `ircli revoke-sessions --role NAME`; for instance "
                "credentials, the instance-credential-exfiltration runbook.")
        return str(key["accessKeyId"])
    if runbook.target == "role":
        return role_from_finding(finding, runbook)
    if runbook.target == "container":
        return workload_from_finding(finding, runbook)
    if runbook.target == "db":
        if finding.db_identifier:
            return finding.db_identifier
        raise UserError(f"The finding names no DB instance, and runbook {runbook.name} acts "
                        "on one.", "Run `ircli runbook run` with --target DB_ID yourself.")
    if runbook.target == "function":
        if finding.function_name:
            return finding.function_name
        raise UserError(f"The finding names no Lambda function, and runbook {runbook.name} "
                        "acts on one.", "Run `ircli runbook run` with --target FUNCTION.")
    if runbook.target == "trail":
        if finding.trail_name:
            return finding.trail_name
        raise UserError(f"The finding names no trail, and runbook {runbook.name} acts on one.",
                        "Run `ircli runbook run` with --target TRAIL yourself.")
    if runbook.target == "bucket":
        if finding.bucket_name:
            return finding.bucket_name
        raise UserError(f"The finding names no S3 bucket, and runbook {runbook.name} acts on "
                        "one.", "Run `ircli runbook run` with --target BUCKET yourself.")
    if finding.remote.ip:
        return finding.remote.ip
    raise UserError(f"The finding names no remote address, and runbook {runbook.name} blocks "
                    "one.", "Run `ircli block-ip IP --vpc VPC` with the address yourself.")


def role_from_finding(finding: Finding, runbook: Runbook) -> str:
    """The role whose session the finding is about; federated users have no role to deny."""
    if finding.role_name:
        return finding.role_name
    key = finding.access_key
    if finding.user_type == "FederatedUser":
        raise UserError(f"Federated user {key.get('userName')} got its session from an IAM "
                        "user's GetFederationToken, not from a role.",
                        "Contain the IAM user that federated it: `ircli disable-keys --user "
                        "NAME` (its deny covers the sessions the user minted).")
    raise UserError(f"The finding names no role, and runbook {runbook.name} acts on one.",
                    "Run `ircli runbook run` with --target ROLE_NAME yourself.")


def workload_from_finding(finding: Finding, runbook: Runbook) -> str:
    """``CLUSTER/NAMESPACE/POD`` (or the cluster alone) from the finding."""
    cluster = finding.cluster_name
    if not cluster:
        raise UserError(f"The finding names no EKS cluster, and runbook {runbook.name} acts "
                        "on a workload in one.", "Run `ircli runbook run` with --target "
                        "CLUSTER/NAMESPACE/POD yourself.")
    workload = finding.workload
    target = cluster
    if workload.get("namespace") and workload.get("name"):
        target = f"{cluster}/{workload['namespace']}/{workload['name']}"
    from ircli.steps.advice import parse_workload

    parse_workload(target)  # names from the finding must be Kubernetes names, or refused
    return target


def runbook_options(finding: Finding, runbook: Runbook, *, vpc: str | None,
                    subnets: list[str], **settings: Any) -> RunbookOptions:
    """Options for running ``runbook`` on this finding; --vpc/--subnet override the finding."""
    if runbook.target == "ip" and not vpc and not subnets:
        vpc = finding.vpc_id
        if vpc is None:
            raise UserError("The finding names no VPC to block the address in.",
                            "Pass --vpc VPC_ID or --subnet SUBNET_ID.")
    reason = settings.pop("reason", None) or f"GuardDuty {finding.type} ({finding.id})"
    return RunbookOptions(target=finding_target(finding, runbook), vpc=vpc, subnets=subnets,
                          reason=reason, finding=finding.summary(), **settings)
