"""``ircli forensics check``: each piece of the forensics account, and the trust between them.

Rows, in the order they depend on each other: the configuration, the role ircli assumes in
the forensics account, the key (customer-managed, enabled, symmetric, in that account), the
key policy (admits the member accounts' ircli role through EBS and S3, nobody outside the
organisation), the bucket (exists, versioning and Object Lock), the bucket policy (a member
role writes its own prefix only, reads nothing, deletes nothing). A row that cannot be
checked because an earlier one failed says so, and fails too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from ircli.core.awserrors import describe, error_code
from ircli.core.permission import Permission
from ircli.core.session import AwsSession
from ircli.evidence.policy import READ_ACTIONS
from ircli.forensics.evaluate import Request, decide
from ircli.forensics.key_policy import key_policy_gaps
from ircli.forensics.session import forensics_session
from ircli.forensics.settings import ForensicsSettings

# What the check calls: assuming the forensics role (as the caller), then, as that role, the
# key's metadata and policy and the bucket's versioning, Object Lock and policy; the
# organisation's id when [forensics] organization_id does not give it. Scoped to the configured
# resources (``{forensics_role}``, ``{forensics_key}``, ``{forensics_bucket}``: see
# :func:`check_values`); the forensics role's own policy needs the reads too.
CHECK_PERMISSIONS: tuple[Permission, ...] = (
    Permission("sts:AssumeRole", "{forensics_role}"),
    Permission(("kms:DescribeKey", "kms:GetKeyPolicy"), "{forensics_key}"),
    Permission(("s3:ListBucket", "s3:GetBucketVersioning", "s3:GetBucketObjectLockConfiguration",
                "s3:GetBucketPolicy"), "{forensics_bucket}"),
    Permission("organizations:DescribeOrganization"),  # AWS scopes it by no resource
)


def check_values(settings: ForensicsSettings, partition: str) -> dict[str, str]:
    """The templates of :data:`CHECK_PERMISSIONS`, filled from the configuration (a key named
    by alias: any key of the forensics account in its region, as IAM authorises the key)."""
    key = settings.key_arn(partition)
    if ":alias/" in key:
        key = f"arn:{partition}:kms:{settings.region}:{settings.account}:key/*"
    return {"forensics_role": settings.role_arn(partition), "forensics_key": key,
            "forensics_bucket": f"arn:{partition}:s3:::{settings.bucket}"}


@dataclass
class Row:
    name: str
    status: str  # pass | fail
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail,
                "fix": self.fix}


@dataclass
class Checker:
    """Runs the rows; ``member_account`` and ``member_role_name`` are whom the policies must
    admit (any member account: the policies name the organisation, not accounts)."""

    aws: AwsSession
    settings: ForensicsSettings
    member_account: str
    member_role_name: str | None

    def run(self) -> list[Row]:
        rows = [self._config()]
        if rows[0].status == "fail":
            return rows + [Row(n, "fail", "not checked: the configuration is incomplete")
                           for n in ("role", "key", "key-policy", "bucket", "bucket-policy")]
        forensics, row = self._role()
        rows.append(row)
        if forensics is None:
            return rows + [Row(n, "fail", "not checked: the forensics role cannot be assumed")
                           for n in ("key", "key-policy", "bucket", "bucket-policy")]
        org = self._organization(forensics)
        key_arn, row = self._key(forensics)
        rows += [row, self._key_policy(forensics, key_arn, org) if key_arn else
                 Row("key-policy", "fail", "not checked: no usable key")]
        row = self._bucket(forensics)
        rows += [row, self._bucket_policy(forensics, org) if row.status == "pass" else
                 Row("bucket-policy", "fail", "not checked: no usable bucket")]
        return rows

    def _config(self) -> Row:
        problems = self.settings.problems()
        if problems:
            return Row("config", "fail", "; ".join(problems),
                       "Complete [forensics] in the ircli config.")
        return Row("config", "pass", f"forensics account {self.settings.account} in "
                   f"{self.settings.region}")

    def _role(self) -> tuple[AwsSession | None, Row]:
        s = self.settings
        try:
            session = forensics_session(self.aws, s, "ircli-forensics-check")
            account = session.identity()["account"]
        except Exception as err:  # any refusal is this row's answer
            return None, Row("role", "fail", f"cannot assume {s.role_arn(self.aws.partition)}: "
                             f"{describe(err)}", "Create the role in the forensics account "
                             "and let this identity assume it.")
        if account != s.account:
            return None, Row("role", "fail", f"the role's credentials act in {account}, not "
                             f"{s.account}")
        return session, Row("role", "pass", f"assumed {s.role_arn(self.aws.partition)}")

    def _organization(self, forensics: AwsSession) -> str | None:
        if self.settings.organization_id:
            return self.settings.organization_id
        for session in (self.aws, forensics):
            try:
                return str(session.client("organizations").describe_organization()
                           ["Organization"]["Id"])
            except botocore.exceptions.ClientError:
                continue
        return None

    def _key(self, forensics: AwsSession) -> tuple[str | None, Row]:
        key_id = self.settings.key_arn(forensics.partition)
        try:
            meta = forensics.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]
        except botocore.exceptions.ClientError as err:
            return None, Row("key", "fail", f"{key_id}: {describe(err)}",
                             "Create a customer-managed symmetric key in the forensics "
                             "account and name it in [forensics] kms_key.")
        problems = []
        if meta.get("KeyManager") != "CUSTOMER":
            problems.append("AWS-managed (its policy cannot admit other accounts)")
        if meta.get("KeyState") != "Enabled" or not meta.get("Enabled", True):
            problems.append(f"state {meta.get('KeyState')}")
        if meta.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
            problems.append(f"{meta.get('KeySpec')} (EBS needs a symmetric key)")
        if meta.get("AWSAccountId") != self.settings.account:
            problems.append(f"in account {meta.get('AWSAccountId')}")
        arn = str(meta["Arn"])
        if problems:
            return None, Row("key", "fail", f"{arn}: {'; '.join(problems)}",
                             "Use an enabled, customer-managed, symmetric key of the "
                             "forensics account.")
        return arn, Row("key", "pass", f"{arn}: customer-managed, enabled")

    def _key_policy(self, forensics: AwsSession, key_arn: str, org: str | None) -> Row:
        member = self._member_role(forensics.partition)
        if member is None or org is None:
            return Row("key-policy", "fail", self._unknown(org), self._unknown_fix(org))
        try:
            policy = forensics.client("kms").get_key_policy(KeyId=key_arn,
                                                            PolicyName="default")["Policy"]
        except botocore.exceptions.ClientError as err:
            return Row("key-policy", "fail", f"cannot read the key policy: {describe(err)}")
        gaps = key_policy_gaps(_statements(policy), key_arn=key_arn, member_role=member,
                               org_id=org, region=self.settings.region,
                               dns_suffix=forensics.dns_suffix)
        if gaps:
            return Row("key-policy", "fail", "; ".join(gaps),
                       "Add the statements `ircli forensics key-policy` prints.")
        return Row("key-policy", "pass", f"admits {member} (organisation {org}) through "
                   "EBS and S3 only")

    def _bucket(self, forensics: AwsSession) -> Row:
        s3, name = forensics.client("s3"), self.settings.bucket
        problems = []
        try:
            s3.head_bucket(Bucket=name)
            if s3.get_bucket_versioning(Bucket=name).get("Status") != "Enabled":
                problems.append("versioning is not enabled")
            lock = _get(s3.get_object_lock_configuration, Bucket=name)
            if (lock or {}).get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != \
                    "Enabled":
                problems.append("Object Lock is not enabled")
        except botocore.exceptions.ClientError as err:
            return Row("bucket", "fail", f"s3://{name}: {describe(err)}",
                       f"Run `ircli evidence init --bucket {name} --organization-id o-…` "
                       "in the forensics account.")
        if problems:
            return Row("bucket", "fail", f"s3://{name}: {'; '.join(problems)}",
                       "Object Lock can only be enabled at creation: create the bucket with "
                       "`ircli evidence init`.")
        return Row("bucket", "pass", f"s3://{name}: versioning and Object Lock")

    def _bucket_policy(self, forensics: AwsSession, org: str | None) -> Row:
        member = self._member_role(forensics.partition)
        if member is None or org is None:
            return Row("bucket-policy", "fail", self._unknown(org), self._unknown_fix(org))
        s3, name = forensics.client("s3"), self.settings.bucket
        raw = _get(s3.get_bucket_policy, Bucket=name)
        gaps = bucket_policy_gaps(_statements(raw["Policy"]) if raw else [],
                                  forensics.partition, name, member, org)
        if gaps:
            return Row("bucket-policy", "fail", "; ".join(gaps),
                       f"Run `ircli evidence init --bucket {name} --organization-id {org}`.")
        return Row("bucket-policy", "pass", f"{member} writes only cases/"
                   f"{self.member_account}/, reads and deletes nothing")

    def _member_role(self, partition: str) -> str | None:
        if not self.member_role_name:
            return None
        return f"arn:{partition}:iam::{self.member_account}:role/{self.member_role_name}"

    def _unknown(self, org: str | None) -> str:
        return "no member role name is configured" if not self.member_role_name else \
            "the organisation id is unknown (not set, and AWS Organizations did not answer)"

    def _unknown_fix(self, org: str | None) -> str:
        return "Set [accounts] role_name." if not self.member_role_name else \
            'Set [forensics] organization_id = "o-…".'


def bucket_policy_gaps(statements: list[dict[str, Any]], partition: str, bucket: str,
                       member_role: str, org: str) -> list[str]:
    """What the central bucket's policy lets a member role do that it must not, or refuses
    that it must allow (empty: right)."""
    account = member_role.split(":")[4]
    other = "000000000000" if account != "000000000000" else "000000000001"

    def ask(action: str, key: str, role: str = member_role, org_id: str = org) -> str:
        resource = f"arn:{partition}:s3:::{bucket}" + (f"/{key}" if key else "")
        return decide(statements, Request(role, action, resource,
                                          {"aws:PrincipalOrgID": org_id,
                                           "aws:SecureTransport": "true"}))

    gaps = []
    if ask("s3:PutObject", f"cases/{account}/case-1/case.json") != "allow":
        gaps.append(f"{member_role} may not write under cases/{account}/")
    if ask("s3:PutObject", f"cases/{other}/case-1/case.json") == "allow":
        gaps.append(f"{member_role} may write under another account's prefix")
    if ask("s3:PutObject", "case.json") == "allow":
        gaps.append(f"{member_role} may write outside cases/")
    for action in [*READ_ACTIONS, "s3:DeleteObject", "s3:DeleteObjectVersion",
                   "s3:PutObjectRetention", "s3:PutObjectLegalHold",
                   "s3:BypassGovernanceRetention"]:
        on_bucket = action in ("s3:ListBucket", "s3:ListBucketVersions")
        if ask(action, "" if on_bucket else f"cases/{account}/case-1/case.json") == "allow":
            gaps.append(f"{member_role} may {action}")
    outsider = member_role.replace(account, other, 1)
    if ask("s3:PutObject", f"cases/{other}/x", outsider, "o-outsider0000") == "allow":
        gaps.append("a role outside the organisation may write")
    # The member's compiled runbooks write their case and read it back, their prefix only.
    machine = f"{member_role.rsplit('/', 1)[0]}/ircli-runbook-sfn"  # as MACHINE_ROLE matches
    own = f"cases/{account}/case-1/case.json"
    if ask("s3:PutObject", own, machine) != "allow" or ask("s3:GetObject", own, machine) \
            != "allow":
        gaps.append(f"the account's automation ({machine}) may not write and read back "
                    f"its own cases under cases/{account}/")
    if ask("s3:GetObject", f"cases/{other}/case-1/case.json", machine) == "allow" or \
            ask("s3:ListBucket", "", machine) == "allow":
        gaps.append("the account's automation may read outside its own prefix")
    return gaps


def _statements(policy: str) -> list[dict[str, Any]]:
    data = json.loads(policy)
    found = data.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def _get(call: Callable[..., dict[str, Any]], **params: Any) -> dict[str, Any] | None:
    try:
        return call(**params)
    except botocore.exceptions.ClientError as err:
        if error_code(err) in ("NoSuchBucketPolicy", "ObjectLockConfigurationNotFoundError"):
            return None
        raise
