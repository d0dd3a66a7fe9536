"""The analyst's role and instance profile: read this case's evidence, talk to SSM, nothing else.

One role per case (``ircli-analyst-<case-id>``), so an analyst of one case never reads another.
Inside one account S3 allows a read that either the bucket policy or the role's policy allows,
and the bucket policy grants its analysts the whole bucket; so the role's own policy also
*denies* S3 outside this case's prefix — an explicit deny wins over any allow.
"""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions

from ircli.analyst import names as n
from ircli.analyst.record import remember
from ircli.aws.iam_policies import inline_policy, policy_document
from ircli.core.awserrors import error_code
from ircli.core.engine import RunContext
from ircli.core.permission import ANALYST_PROFILES, ANALYST_ROLES, PASS_ANALYST_ROLE, Permission
from ircli.core.step import Call, Ref, Step, StepPlan, register
from ircli.evidence.ship import case_prefix


def evidence_read_policy(partition: str, bucket: str, case_id: str,
                         kms_key_arn: str | None = None, s3_host: str | None = None,
                         account: str | None = None) -> dict[str, Any]:
    """Read and list the case's prefix of the evidence bucket (``cases/<case-id>/``, or
    ``cases/<account>/<case-id>/`` in the central forensics bucket); deny every other object."""
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    prefix = case_prefix(case_id, account)
    objects = f"{bucket_arn}/{prefix}*"
    listing = {"s3:prefix": [f"{prefix}*"]}
    statements: list[dict[str, Any]] = [
        {"Sid": "IrcliReadCaseEvidence", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": objects},
        {"Sid": "IrcliListCaseEvidence", "Effect": "Allow", "Action": "s3:ListBucket",
         "Resource": bucket_arn, "Condition": {"StringLike": listing}},
        {"Sid": "IrcliDenyOtherObjects", "Effect": "Deny", "Action": "s3:*",
         "NotResource": [bucket_arn, objects]},
        {"Sid": "IrcliDenyOtherListing", "Effect": "Deny",
         "Action": ["s3:ListBucket", "s3:ListBucketVersions"], "Resource": bucket_arn,
         "Condition": {"StringNotLike": listing}},
    ]
    if kms_key_arn:
        statements.append({"Sid": "IrcliDecryptEvidence", "Effect": "Allow",
                           "Action": "kms:Decrypt", "Resource": kms_key_arn,
                           "Condition": {"StringEquals": {"kms:ViaService": s3_host}}})
    return policy_document(*statements)


def trust_policy() -> dict[str, Any]:
    return policy_document({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                            "Action": "sts:AssumeRole"})


@register
class AnalystRole(Step):
    """Find or create the case's role and profile, and hold them to exactly two policies."""

    name = "analyst-role"
    audience = "analyst"
    title = "Analyst role and instance profile"
    critical = True
    permissions = (
        Permission(("iam:GetRole", "iam:CreateRole", "iam:TagRole", "iam:ListRolePolicies",
                    "iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
                    "iam:ListAttachedRolePolicies", "iam:DetachRolePolicy"), ANALYST_ROLES),
        Permission("iam:AttachRolePolicy", ANALYST_ROLES, {"ArnEquals": {
            "iam:PolicyARN": f"arn:{{partition}}:iam::aws:policy/{n.SSM_CORE_POLICY}"}}),
        Permission(("iam:GetInstanceProfile", "iam:CreateInstanceProfile",
                    "iam:TagInstanceProfile", "iam:AddRoleToInstanceProfile"), ANALYST_PROFILES),
        PASS_ANALYST_ROLE, "s3:GetEncryptionConfiguration", "kms:DescribeKey",
    )

    def __init__(self, bucket: str | None) -> None:
        self.bucket = bucket

    def plan(self, ctx: RunContext) -> StepPlan:
        assert ctx.case is not None
        case_id = ctx.case.case_id
        iam = ctx.aws.client("iam")
        role = n.analyst_role_name(case_id)
        account = ctx.aws.identity()["account"]
        role_arn = f"arn:{ctx.aws.partition}:iam::{account}:role/{role}"
        ctx.facts.update(analyst_role=role, analyst_role_arn=role_arn, analyst_profile=role)
        plan = StepPlan(data={"role_name": role, "role_arn": role_arn, "instance_profile": role})
        tag_list = n.tags(role, n.PURPOSE_WORKSTATION, case_id)
        exists = _get(iam.get_role, RoleName=role) is not None
        if not exists:
            plan.calls.append(Call("iam", "create_role", {
                "RoleName": role, "AssumeRolePolicyDocument": json.dumps(trust_policy()),
                "Description": f"ircli analyst for case {case_id}: reads its evidence only",
                "Tags": tag_list}, f"create role {role} (EC2 may assume it)",
                on_result=lambda r: remember(ctx, "iam-role", r["Role"]["RoleName"])))
        self._policies(ctx, plan, role, exists)
        profile = _get(iam.get_instance_profile, InstanceProfileName=role)
        if profile is None:
            ref = Ref("analyst/profile")
            ctx.facts["analyst_profile"] = ref  # a launch cannot be proven before it exists
            plan.calls.append(Call("iam", "create_instance_profile", {
                "InstanceProfileName": role, "Tags": tag_list},
                f"create instance profile {role}",
                produces=(ref.name, "InstanceProfile.InstanceProfileName"),
                on_result=lambda r: remember(
                    ctx, "instance-profile", r["InstanceProfile"]["InstanceProfileName"])))
        roles = [r["RoleName"] for r in (profile or {}).get("InstanceProfile", {}).get(
            "Roles", [])]
        if role not in roles:
            plan.calls.append(Call("iam", "add_role_to_instance_profile", {
                "InstanceProfileName": role, "RoleName": role},
                f"put role {role} in instance profile {role}"))
        if not plan.calls:
            plan.notes.append(f"reusing role and instance profile {role}")
        return plan

    def _policies(self, ctx: RunContext, plan: StepPlan, role: str, exists: bool) -> None:
        """Exactly the evidence read policy (when a bucket is set) and SSM's core policy."""
        assert ctx.case is not None
        iam = ctx.aws.client("iam")
        ssm_core = f"arn:{ctx.aws.partition}:iam::aws:policy/{n.SSM_CORE_POLICY}"
        inline: list[str] = []
        attached: list[str] = []
        if exists:
            inline = [name for page in iam.get_paginator("list_role_policies").paginate(
                RoleName=role) for name in page["PolicyNames"]]
            attached = [p["PolicyArn"] for page in iam.get_paginator(
                "list_attached_role_policies").paginate(RoleName=role)
                for p in page["AttachedPolicies"]]
        wanted = self._read_policy(ctx) if self.bucket else None
        if wanted is None:
            plan.warnings.append("No evidence bucket is configured: the analyst role can reach "
                                 "SSM but read no evidence. Configure the bucket and run "
                                 "launch again.")
        for name in inline:
            if name != n.EVIDENCE_POLICY or wanted is None:
                plan.calls.append(Call("iam", "delete_role_policy", {
                    "RoleName": role, "PolicyName": name},
                    f"{role}: remove inline policy {name} (the analyst gets nothing else)"))
        if wanted is not None and inline_policy(ctx.aws, "role", role,
                                                n.EVIDENCE_POLICY) != wanted:
            plan.calls.append(Call("iam", "put_role_policy", {
                "RoleName": role, "PolicyName": n.EVIDENCE_POLICY,
                "PolicyDocument": json.dumps(wanted)},
                f"{role}: read only s3://{self.bucket}/"
                f"{case_prefix(ctx.case.case_id, ctx.facts.get('evidence_account'))}"))
        for arn in attached:
            if arn != ssm_core:
                plan.calls.append(Call("iam", "detach_role_policy", {
                    "RoleName": role, "PolicyArn": arn},
                    f"{role}: detach {arn} (the analyst gets nothing else)"))
        if ssm_core not in attached:
            plan.calls.append(Call("iam", "attach_role_policy", {
                "RoleName": role, "PolicyArn": ssm_core},
                f"{role}: attach {n.SSM_CORE_POLICY} (Session Manager)"))

    def _read_policy(self, ctx: RunContext) -> dict[str, Any]:
        assert ctx.case is not None and self.bucket is not None
        key = _bucket_kms_key(ctx, self.bucket)
        host = f"s3.{ctx.aws.region}.{ctx.aws.dns_suffix}"
        return evidence_read_policy(ctx.aws.partition, self.bucket, ctx.case.case_id, key, host,
                                    ctx.facts.get("evidence_account"))


def _bucket_kms_key(ctx: RunContext, bucket: str) -> str | None:
    """The ARN of the bucket's default SSE-KMS key (the analyst needs kms:Decrypt on it)."""
    try:
        rules = ctx.aws.client("s3").get_bucket_encryption(Bucket=bucket)[
            "ServerSideEncryptionConfiguration"]["Rules"]
    except botocore.exceptions.ClientError as err:
        if error_code(err) in ("ServerSideEncryptionConfigurationNotFoundError", "NoSuchBucket"):
            return None
        raise
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
    key = default.get("KMSMasterKeyID")
    if not str(default.get("SSEAlgorithm", "")).startswith("aws:kms"):
        return None
    if not key:  # the AWS managed aws/s3 key: S3 decrypts for anyone it lets read
        return None
    arn: str = ctx.aws.client("kms").describe_key(KeyId=key)["KeyMetadata"]["Arn"]
    return arn


def _get(call: Any, **params: Any) -> dict[str, Any] | None:
    try:
        result: dict[str, Any] = call(**params)
    except botocore.exceptions.ClientError as err:
        if error_code(err) == "NoSuchEntity":
            return None
        raise
    return result
