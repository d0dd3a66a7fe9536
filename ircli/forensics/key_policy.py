"""The forensics key's policy: which member roles may have EBS and S3 use it, and a check of it.

Trust model: the forensics key's own policy admits every member account's ircli role, by the
organisation (``aws:PrincipalOrgID``) and the role's fixed name (``aws:PrincipalArn``), and
only through EBS or S3 (``kms:ViaService``); ``kms:CreateGrant`` only for AWS resources
(``kms:GrantIsForAWSResource``, the grant EBS makes for the copy). Grants were the other
choice: they must be created in the forensics account per member account (500 calls, again for
each new account) and live outside the key policy, where a review of "who may use this key"
does not see them. One statement covers every present and future member, can be read in one
place, and cannot be used outside EBS/S3 or outside the organisation.

The compiled runbooks' execution roles (``ircli-<runbook>-<region>-sfn``, as ``ircli
automation deploy`` names them) are admitted alike, through EBS only: the automation's
``CopySnapshot`` runs under that role, not under the responder's.
"""

from __future__ import annotations

from typing import Any

from ircli.evidence.policy import machine_role_pattern
from ircli.forensics.evaluate import Request, decide

SID_EBS = "IrcliMemberRolesCopySnapshotsViaEbs"
SID_GRANT = "IrcliMemberRolesGrantToEbs"
SID_S3 = "IrcliMemberRolesWriteEvidenceViaS3"
EBS_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext",
               "kms:ReEncryptFrom", "kms:ReEncryptTo"]
GRANT_ACTIONS = ["kms:CreateGrant"]
S3_ACTIONS = ["kms:GenerateDataKey"]


def member_role_pattern(partition: str, role_name: str) -> str:
    return f"arn:{partition}:iam::*:role/{role_name}"


def member_statements(partition: str, dns_suffix: str, org_id: str, role_name: str
                      ) -> list[dict[str, Any]]:
    """The statements to add to the forensics key's policy (beside its administrators')."""
    who = {"StringEquals": {"aws:PrincipalOrgID": org_id},
           "ArnLike": {"aws:PrincipalArn": member_role_pattern(partition, role_name)}}
    ebs_who = {"StringEquals": {"aws:PrincipalOrgID": org_id},
               "ArnLike": {"aws:PrincipalArn": [member_role_pattern(partition, role_name),
                                                machine_role_pattern(partition)]}}

    def via(service: str) -> dict[str, Any]:
        return {"kms:ViaService": f"{service}.*.{dns_suffix}"}

    return [
        {"Sid": SID_EBS, "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": EBS_ACTIONS,
         "Resource": "*", "Condition": {**ebs_who, "StringLike": via("ec2")}},
        {"Sid": SID_GRANT, "Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": GRANT_ACTIONS, "Resource": "*",
         "Condition": {**ebs_who, "StringLike": via("ec2"),
                       "Bool": {"kms:GrantIsForAWSResource": "true"}}},
        {"Sid": SID_S3, "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": S3_ACTIONS,
         "Resource": "*", "Condition": {**who, "StringLike": via("s3")}},
    ]


def _request(role_arn: str, action: str, key_arn: str, org_id: str, service: str,
             region: str, dns_suffix: str) -> Request:
    return Request(role_arn, action, key_arn, {
        "aws:PrincipalOrgID": org_id, "kms:ViaService": f"{service}.{region}.{dns_suffix}",
        "kms:GrantIsForAWSResource": "true", "kms:CallerAccount": role_arn.split(":")[4]})


def key_policy_gaps(statements: list[dict[str, Any]], *, key_arn: str, member_role: str,
                    org_id: str, region: str, dns_suffix: str) -> list[str]:
    """Why a member's ircli role (or its compiled ec2-compromise's execution role) could not
    copy snapshots under the key, or why someone outside the organisation could use it
    (empty: the policy is right)."""
    gaps = []
    machine = member_role.rsplit("/", 1)[0] + f"/ircli-ec2-compromise-{region}-sfn"
    for role, service, actions in ((member_role, "ec2", EBS_ACTIONS + GRANT_ACTIONS),
                                   (member_role, "s3", S3_ACTIONS),
                                   (machine, "ec2", EBS_ACTIONS + GRANT_ACTIONS)):
        refused = [a for a in actions if decide(statements, _request(
            role, a, key_arn, org_id, service, region, dns_suffix)) != "allow"]
        if refused:
            gaps.append(f"{role} may not {', '.join(refused)} through {service}")
    outsider = member_role.replace(member_role.split(":")[4], "000000000000", 1)
    leaks = [a for a in EBS_ACTIONS + GRANT_ACTIONS if decide(statements, _request(
        outsider, a, key_arn, "o-outsider0000", "ec2", region, dns_suffix)) == "allow"]
    if leaks:
        gaps.append(f"a role outside the organisation may {', '.join(leaks)}")
    direct = [a for a in EBS_ACTIONS if decide(statements, Request(member_role, a, key_arn, {
        "aws:PrincipalOrgID": org_id})) == "allow"]
    if direct:
        gaps.append(f"member roles may {', '.join(direct)} directly, not only through EBS "
                    "(no kms:ViaService condition)")
    return gaps
