"""The evidence bucket: what it must be, one named check per setting, and ``init``'s repairs.

``check`` and ``init`` share one list of checks, so what ``init`` repairs is exactly what
``check`` audits. Each check knows how to fix itself, except Object Lock: S3 enables it only
when a bucket is created.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from ircli.core.awserrors import error_code
from ircli.core.errors import AccessDenied, InvalidInput, UserError
from ircli.core.session import AwsSession
from ircli.evidence import anchor as anc
from ircli.evidence import policy as pol

TAG_PURPOSE = "ircli:purpose"
PURPOSE = "evidence-storage"
TAG_MANAGED = "ircli:managed-by"
RETENTION_MODES = ("GOVERNANCE", "COMPLIANCE")
DEFAULT_MODE = "COMPLIANCE"
NO_BREAK_GLASS = "the account's root user (no break-glass role)"
GOVERNANCE_WARNING = ("GOVERNANCE retention yields to anyone allowed "
                      "s3:BypassGovernanceRetention (the bucket policy denies it to all but "
                      "the break-glass role, but an account admin can change who that is); "
                      "COMPLIANCE yields to no one, root included")
_NOT_CONFIGURED = {"ObjectLockConfigurationNotFoundError", "OwnershipControlsNotFoundError",
                   "NoSuchPublicAccessBlockConfiguration", "NoSuchBucketPolicy", "NoSuchTagSet",
                   "ServerSideEncryptionConfigurationNotFoundError",
                   "NoSuchLifecycleConfiguration"}
_PAB_KEYS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


@dataclass(frozen=True)
class BucketSpec:
    """The desired bucket. In ``check``, a None field means "any sound value passes"."""

    name: str
    retention_days: int | None = None
    retention_mode: str | None = None
    kms_key_id: str | None = None
    analyst_role_arns: tuple[str, ...] | None = None
    responder_role_arn: str | None = None
    break_glass_role_arn: str | None = None
    signing_key: str | None = None  # check: the key to audit; init: the key to use
    manage_signing_key: bool = False  # init: check the named key, or create the default one
    organization_id: str | None = None  # the central forensics bucket: members write their
    member_role_name: str | None = None  # own prefix (evidence.policy.member_statements)

    def validate(self) -> None:
        if self.retention_days is not None and not 1 <= self.retention_days <= 36500:
            raise InvalidInput("--retention-days must be between 1 and 36500.")
        if self.retention_mode is not None and self.retention_mode not in RETENTION_MODES:
            raise InvalidInput("--retention-mode must be GOVERNANCE or COMPLIANCE.")
        for arn in [*(self.analyst_role_arns or ()), self.responder_role_arn or ""]:
            if arn and not pol.is_principal_arn(arn):
                raise InvalidInput(f"'{arn}' is not an IAM role or user ARN.",
                                   "Use arn:aws:iam::ACCOUNT:role/NAME.")
        glass = self.break_glass_role_arn
        if glass and (not pol.is_principal_arn(glass) or ":role/" not in glass):
            raise InvalidInput(f"--break-glass-role-arn '{glass}' is not an IAM role ARN.",
                               "Use arn:aws:iam::ACCOUNT:role/NAME.")
        if glass and glass == self.responder_role_arn:
            raise InvalidInput("The break-glass role must not be the responder role.",
                               "Name a separate role that nobody uses day to day.")


@dataclass
class Check:
    name: str
    status: str  # pass | fail | warn
    detail: str
    fix: Callable[[], str] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass
class BucketReport:
    bucket: str
    checks: list[Check]
    created: bool = False
    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    signing_key: str | None = None

    @property
    def ok(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "ok": self.ok, "created": self.created,
                "changed": bool(self.changes), "changes": self.changes,
                "warnings": self.warnings, "signing_key": self.signing_key,
                "checks": [c.to_dict() for c in self.checks]}


def _get(call: Callable[..., dict[str, Any]], **params: Any) -> dict[str, Any] | None:
    """A Get* response, or None when that setting was never configured."""
    try:
        return call(**params)
    except botocore.exceptions.ClientError as err:
        if error_code(err) in _NOT_CONFIGURED:
            return None
        raise


class BucketAuditor:
    """Reads a bucket's settings and turns them into named checks with fixes."""

    def __init__(self, aws: AwsSession, spec: BucketSpec) -> None:
        self.aws = aws
        self.spec = spec
        self.s3 = aws.client("s3")

    def checks(self) -> list[Check]:
        b = self.spec.name
        lock = _get(self.s3.get_object_lock_configuration, Bucket=b)
        lock_cfg = (lock or {}).get("ObjectLockConfiguration", {})
        # versioning before retention: S3 takes a lock configuration only while versioning
        # is on, and init applies the fixes in this order
        checks = [self._object_lock(lock_cfg),
                  self._versioning(self.s3.get_bucket_versioning(Bucket=b)),
                  self._retention(lock_cfg),
                  self._ownership(_get(self.s3.get_bucket_ownership_controls, Bucket=b)),
                  self._public_access(_get(self.s3.get_public_access_block, Bucket=b)),
                  self._encryption(_get(self.s3.get_bucket_encryption, Bucket=b))]
        raw_policy = _get(self.s3.get_bucket_policy, Bucket=b)
        statements = json.loads(raw_policy["Policy"])["Statement"] if raw_policy else []
        checks += self._policy(statements)
        checks.append(self._lifecycle(_get(self.s3.get_bucket_lifecycle_configuration,
                                           Bucket=b)))
        checks.append(self._tags(_get(self.s3.get_bucket_tagging, Bucket=b)))
        if self.spec.signing_key is not None or not self.spec.manage_signing_key:
            checks.append(self._signing_key())
        return checks

    # -- one method per setting -----------------------------------------------------------
    def _object_lock(self, cfg: dict[str, Any]) -> Check:
        if cfg.get("ObjectLockEnabled") == "Enabled":
            return Check("object-lock", "pass", "Object Lock enabled")
        return Check("object-lock", "fail",
                     "Object Lock is not enabled, and S3 enables it only at bucket creation: "
                     "use a new bucket")

    def _retention(self, cfg: dict[str, Any]) -> Check:
        rule = cfg.get("Rule", {}).get("DefaultRetention", {})
        mode, days = rule.get("Mode"), rule.get("Days") or 0
        want_mode, want_days = self.spec.retention_mode, self.spec.retention_days
        found = f"{mode} {days} days" if mode else "no default retention"
        if years := rule.get("Years"):
            found = f"{mode} {years} years"
        ok = bool(mode) and mode == (want_mode or DEFAULT_MODE) and \
            (want_days is None or (days == want_days and not rule.get("Years")))
        if ok:
            return Check("default-retention", "pass", found)
        want = f"{want_mode or DEFAULT_MODE} {want_days or 90} days"
        if mode == "GOVERNANCE" and want_mode is None:
            found += (" (yields to s3:BypassGovernanceRetention; pass --retention-mode "
                      "GOVERNANCE to accept it)")
        if cfg.get("ObjectLockEnabled") != "Enabled":
            return Check("default-retention", "fail", f"{found} (needs Object Lock)")

        def fix() -> str:
            self.s3.put_object_lock_configuration(
                Bucket=self.spec.name, ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {
                        "Mode": want_mode or DEFAULT_MODE, "Days": want_days or 90}}})
            return f"default retention set to {want}"

        return Check("default-retention", "fail", f"{found}, want {want}", fix)

    def _versioning(self, resp: dict[str, Any]) -> Check:
        status = resp.get("Status") or "never enabled"
        if status == "Enabled":
            return Check("versioning", "pass", "Enabled")

        def fix() -> str:
            self.s3.put_bucket_versioning(Bucket=self.spec.name,
                                          VersioningConfiguration={"Status": "Enabled"})
            return "versioning enabled"

        return Check("versioning", "fail", status, fix)

    def _ownership(self, resp: dict[str, Any] | None) -> Check:
        rules = (resp or {}).get("OwnershipControls", {}).get("Rules", [])
        found = rules[0].get("ObjectOwnership") if rules else "not set (ACLs enabled)"
        if found == "BucketOwnerEnforced":
            return Check("object-ownership", "pass", "BucketOwnerEnforced (ACLs disabled)")

        def fix() -> str:
            self.s3.put_bucket_ownership_controls(
                Bucket=self.spec.name,
                OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
            return "object ownership set to BucketOwnerEnforced (ACLs disabled)"

        return Check("object-ownership", "fail", str(found), fix)

    def _public_access(self, resp: dict[str, Any] | None) -> Check:
        cfg = (resp or {}).get("PublicAccessBlockConfiguration", {})
        off = [k for k in _PAB_KEYS if not cfg.get(k)]
        if not off:
            return Check("public-access-block", "pass", "all four blocks on")

        def fix() -> str:
            self.s3.put_public_access_block(
                Bucket=self.spec.name,
                PublicAccessBlockConfiguration={k: True for k in _PAB_KEYS})
            return "all four public access blocks turned on"

        return Check("public-access-block", "fail", "off: " + ", ".join(off), fix)

    def _encryption(self, resp: dict[str, Any] | None) -> Check:
        rules = (resp or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        default = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
        algorithm, key = default.get("SSEAlgorithm"), default.get("KMSMasterKeyID")
        want_key = self.spec.kms_key_id
        if algorithm in ("aws:kms", "aws:kms:dsse") and (
                want_key is None or key == want_key or str(key).endswith(f"/{want_key}")):
            return Check("encryption", "pass", f"SSE-KMS with {key or 'the AWS managed key'}")

        def fix() -> str:
            if want_key:
                by_default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": want_key}
            else:
                by_default = {"SSEAlgorithm": "AES256"}
            self.s3.put_bucket_encryption(
                Bucket=self.spec.name, ServerSideEncryptionConfiguration={"Rules": [{
                    "ApplyServerSideEncryptionByDefault": by_default,
                    "BucketKeyEnabled": bool(want_key)}]})
            return f"default encryption set to {'SSE-KMS ' + want_key if want_key else 'SSE-S3'}"

        if algorithm == "AES256" and want_key is None:
            return Check("encryption", "warn",
                         "SSE-S3 only: anyone with s3:GetObject can read; use --kms-key-id")
        found = f"{algorithm} {key or ''}".strip() if algorithm else "no default encryption"
        want = f"SSE-KMS with {want_key}" if want_key else "SSE-KMS (or SSE-S3)"
        return Check("encryption", "fail", f"{found}, want {want}", fix)

    def _policy(self, statements: list[dict[str, Any]]) -> list[Check]:
        by_sid = {s.get("Sid"): s for s in statements}
        spec = self.spec
        desired = None
        existing_glass = pol.break_glass_roles(statements) or []
        glass = spec.break_glass_role_arn or (existing_glass[0] if len(existing_glass) == 1
                                              else None)
        if spec.responder_role_arn and spec.analyst_role_arns is not None:
            desired = pol.desired_statements(self.aws.partition, spec.name,
                                             spec.responder_role_arn,
                                             list(spec.analyst_role_arns), glass,
                                             _members(spec))

        def fix() -> str:
            assert desired is not None
            self.s3.put_bucket_policy(Bucket=spec.name, Policy=json.dumps(
                {"Version": "2012-10-17", "Statement": desired}))
            return "bucket policy replaced with the ircli evidence policy"

        def named(name: str, sids: list[str], what: str) -> Check:
            missing = [sid for sid in sids if sid not in by_sid]
            if desired is not None:
                wanted = {s["Sid"]: pol.normalize(s) for s in desired}
                missing += [sid for sid in sids if sid in by_sid and sid in wanted
                            and pol.normalize(by_sid[sid]) != wanted[sid]]
            if missing:
                return Check(name, "fail", f"missing or different: {', '.join(missing)}",
                             fix if desired else None)
            return Check(name, "pass", what)

        members = _members(spec) is not None
        known = pol.KNOWN_SIDS + (pol.MEMBER_SIDS if members else ())
        grantees, wildcard = pol.allow_grantees(
            [s for s in statements if not members or s.get("Sid") not in pol.MEMBER_SIDS])
        extra = [s.get("Sid") or "(no Sid)" for s in statements
                 if s.get("Sid") not in known]
        if desired is not None:
            want = {p for s in desired if s["Effect"] == "Allow"
                    and s["Sid"] not in pol.MEMBER_SIDS for p in s["Principal"]["AWS"]}
            grants_ok = grantees == want and not wildcard and not extra
        else:
            grants_ok = bool(grantees) and not wildcard and not extra
        detail = "allows only: " + ", ".join(sorted(grantees)) if grantees else "grants nobody"
        if wildcard:
            detail = "an Allow statement names a wildcard or non-IAM principal"
        elif extra:
            detail = f"statements ircli did not write: {', '.join(map(str, extra))}"
        grants = Check("policy-grants", "pass" if grants_ok else "fail", detail,
                       None if grants_ok or desired is None else fix)
        analyst_sids = [pol.SID_ANALYST] if spec.analyst_role_arns else []
        responder = spec.responder_role_arn
        if responder is None and pol.SID_RESPONDER in by_sid:
            named_responders = sorted(pol.allow_grantees([by_sid[pol.SID_RESPONDER]])[0])
            responder = named_responders[0] if len(named_responders) == 1 else None
        gaps = pol.config_gaps(statements, responder, spec.break_glass_role_arn)
        if not gaps and desired is not None:
            gaps = [] if pol.SID_DENY_CONFIG in by_sid and pol.normalize(
                by_sid[pol.SID_DENY_CONFIG]) == pol.normalize(next(
                    s for s in desired if s["Sid"] == pol.SID_DENY_CONFIG)) else \
                [f"{pol.SID_DENY_CONFIG} differs from what init writes"]
        exempt = ", ".join(existing_glass) if existing_glass else NO_BREAK_GLASS
        protects = Check("policy-protects-itself", "fail" if gaps else "pass",
                         "; ".join(gaps) if gaps else
                         f"bucket configuration changes denied to all but {exempt}",
                         fix if gaps and desired is not None else None)
        return [
            named("policy-deny-insecure-transport", [pol.SID_TLS], "denies requests without TLS"),
            named("policy-responder-write", [pol.SID_RESPONDER], "responder may write and read"),
            named("policy-analyst-read", analyst_sids, "analysts may read"),
            grants,
            named("policy-deny-others", [pol.SID_DENY_READ, pol.SID_DENY_WRITE],
                  "denies everyone else read and write"),
            protects,
            *([named("policy-member-write", list(pol.MEMBER_SIDS),
                     "member accounts' ircli roles may only write their own prefix")]
              if members else []),
        ]

    def _lifecycle(self, resp: dict[str, Any] | None) -> Check:
        """An expiration rule puts delete markers on the evidence (verify: tampering)."""
        expiring = [str(r.get("ID") or "(no ID)") for r in (resp or {}).get("Rules", [])
                    if r.get("Status") == "Enabled" and (
                        r.get("Expiration") or r.get("NoncurrentVersionExpiration"))]
        if not expiring:
            return Check("lifecycle", "pass", "no rule expires evidence")

        def fix() -> str:
            self.s3.delete_bucket_lifecycle(Bucket=self.spec.name)
            return "lifecycle rules that expire objects removed"

        return Check("lifecycle", "fail", "rules expire objects (delete markers hide the "
                     f"evidence): {', '.join(expiring)}", fix)

    def _signing_key(self) -> Check:
        """The anchors' KMS key: asymmetric, ECDSA P-256, enabled."""
        key = self.spec.signing_key
        if not key:
            return Check("signing-key", "warn", "no signing key configured: case heads are not "
                         "signed, so a recomputed chain passes verify (set [evidence] "
                         "signing_key)")
        try:
            meta = self.aws.client("kms").describe_key(KeyId=key)["KeyMetadata"]
        except botocore.exceptions.ClientError as err:
            return Check("signing-key", "fail", f"{key} cannot be read ({error_code(err)})")
        if meta.get("KeyUsage") != "SIGN_VERIFY" or anc.ALGORITHM not in (
                meta.get("SigningAlgorithms") or []):
            return Check("signing-key", "fail", f"{key} is not a {anc.ALGORITHM} signing key")
        if meta.get("KeyState") != "Enabled":
            return Check("signing-key", "fail", f"{key} is {meta.get('KeyState')}")
        return Check("signing-key", "pass", f"{meta['Arn']} ({anc.ALGORITHM})")

    def _tags(self, resp: dict[str, Any] | None) -> Check:
        tags = {t["Key"]: t["Value"] for t in (resp or {}).get("TagSet", [])}
        if tags.get(TAG_PURPOSE) == PURPOSE:
            return Check("tags", "pass", f"{TAG_PURPOSE}={PURPOSE}")

        def fix() -> str:
            merged = {**tags, TAG_PURPOSE: PURPOSE, TAG_MANAGED: "ircli"}
            self.s3.put_bucket_tagging(Bucket=self.spec.name, Tagging={
                "TagSet": [{"Key": k, "Value": v} for k, v in sorted(merged.items())]})
            return f"tagged {TAG_PURPOSE}={PURPOSE}"

        return Check("tags", "fail", f"no {TAG_PURPOSE}={PURPOSE} tag", fix)


def bucket_exists(aws: AwsSession, bucket: str) -> bool:
    try:
        aws.client("s3").head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as err:
        if error_code(err) in ("404", "NoSuchBucket", "NotFound"):
            return False
        if error_code(err) in ("403", "AccessDenied"):
            raise AccessDenied(
                f"Bucket {bucket} exists but this identity may not use it (another account's "
                "bucket, or missing s3 permissions).",
                "Pick another bucket name, or run with the responder role.") from err
        raise
    return True


def check_bucket(aws: AwsSession, spec: BucketSpec) -> BucketReport:
    """Audit ``spec.name``; changes nothing. For init's plan (``manage_signing_key``) a
    wrong or moved signing key is refused here, as init itself would, before anyone is asked."""
    spec.validate()
    if spec.manage_signing_key:
        anc.planned_signing_key(aws.client("kms"), spec.signing_key)
    if not bucket_exists(aws, spec.name):
        return BucketReport(spec.name, [Check("exists", "fail", "no such bucket")])
    return BucketReport(spec.name, BucketAuditor(aws, spec).checks())


def init_bucket(aws: AwsSession, spec: BucketSpec) -> BucketReport:
    """Create the bucket as ``spec`` says, or repair an existing one; a no-op when it holds."""
    spec.validate()
    signing_key, signing_change = None, None
    if spec.manage_signing_key:  # first: a wrong or moved key stops init before any change
        identity = aws.identity()
        signing_key, what = anc.ensure_signing_key(
            aws.client("kms"), spec.signing_key, spec.responder_role_arn or identity["arn"],
            identity["account"], aws.partition)
        signing_change = what if "created" in what else None
    created = False
    if not bucket_exists(aws, spec.name):
        _create(aws, spec.name)
        created = True
    auditor = BucketAuditor(aws, spec)
    checks = auditor.checks()
    if checks[0].status == "fail":
        raise UserError(
            f"Bucket {spec.name} exists without Object Lock, and S3 turns Object Lock on only "
            "when a bucket is created, so ircli cannot make it evidence storage.",
            "Run `ircli evidence init` again with a new --bucket name.")
    changes: list[str] = []
    applied: set[int] = set()
    for check in checks:  # the policy checks share one fix: apply it once
        if check.status == "fail" and check.fix and id(check.fix) not in applied:
            applied.add(id(check.fix))
            changes.append(check.fix())
    report = BucketReport(spec.name, auditor.checks() if changes else checks, created=created,
                          changes=(["bucket created with Object Lock"] if created else [])
                          + changes)
    report.signing_key = signing_key
    if signing_change:
        report.changes.append(signing_change)
    if spec.retention_mode == "GOVERNANCE":
        report.warnings.append(f"--retention-mode GOVERNANCE: {GOVERNANCE_WARNING}.")
    if any(c.name == "policy-protects-itself" and c.detail.endswith(NO_BREAK_GLASS)
           for c in report.checks):
        report.warnings.append("No --break-glass-role-arn: from now on only the account's "
                               "root user can change this bucket's policy, Object Lock, "
                               "versioning or lifecycle (later repairs by `evidence init` "
                               "of those need it too).")
    if spec.kms_key_id is None and any(c.name == "encryption" and c.status == "warn"
                                       for c in report.checks):
        report.warnings.append("No --kms-key-id: the bucket uses SSE-S3, so S3 decrypts for "
                               "anyone the bucket policy lets read. Prefer a KMS key whose "
                               "policy names only the responders and analysts.")
    return report


def _create(aws: AwsSession, bucket: str) -> None:
    params: dict[str, Any] = {"Bucket": bucket, "ObjectLockEnabledForBucket": True,
                              "ObjectOwnership": "BucketOwnerEnforced"}
    if aws.region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": aws.region}
    try:
        aws.client("s3").create_bucket(**params)
    except botocore.exceptions.ClientError as err:
        if error_code(err) in ("BucketAlreadyExists", "InvalidBucketName"):
            raise UserError(f"Cannot create bucket {bucket}: {error_code(err)}.",
                            "Pick another bucket name (names are global across AWS).") from err
        raise


def _members(spec: BucketSpec) -> tuple[str, str] | None:
    """(organization id, member role name) for the central forensics bucket, else None."""
    if spec.organization_id and spec.member_role_name:
        return spec.organization_id, spec.member_role_name
    return None
