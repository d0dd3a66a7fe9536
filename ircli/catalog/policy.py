"""The least-privilege IAM policies ircli needs, generated from what each step declares.

Three policies, one per audience (:data:`ircli.core.permission.AUDIENCES`): ``contain`` for
the responder, ``analyst`` for the analyst workstation, ``evidence-admin`` for the one-time
set-up of the bucket and the SSM documents. Every statement is scoped: a step states the
resources and conditions of what it declares (:class:`Permission`), and an action a step
declares as a bare string gets ircli's default scope for it (:data:`DEFAULT_SCOPES`: S3 only
in the evidence bucket, SSM documents only ircli's). What remains on ``*`` is reading, EC2 and
load-balancer changes to the suspect's own resources (which are anyone's), and actions AWS
does not scope by resource.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ircli.catalog.steps import all_steps
from ircli.core.permission import (
    AUDIENCES,
    EVIDENCE_BUCKET,
    EVIDENCE_CASES,
    IRCLI_DOCUMENTS,
    Permission,
    PermissionLike,
    as_permission,
    via_service,
)

# The bucket name in a policy printed while none is configured: S3 bucket names are lower
# case, so no one can own this one, and the S3 statements grant nothing until it is replaced.
UNSET_BUCKET = "EVIDENCE_BUCKET_NOT_CONFIGURED"

_DOCUMENT_WRITES = ("ssm:CreateDocument", "ssm:UpdateDocument",
                    "ssm:UpdateDocumentDefaultVersion", "ssm:AddTagsToResource")

# ircli's scope for an action a step declares without one.
DEFAULT_SCOPES: dict[str, Permission] = {
    "ssm:SendCommand": Permission("ssm:SendCommand",
                                  (IRCLI_DOCUMENTS, "arn:{partition}:ec2:*:*:instance/*")),
    "ssm:DescribeDocument": Permission("ssm:DescribeDocument", IRCLI_DOCUMENTS),
    "ssm:GetDocument": Permission("ssm:GetDocument", IRCLI_DOCUMENTS),
    # Whoever may rewrite ircli's documents may run anything on every managed instance:
    # deploying them is set-up work, not the responder's.
    **{action: Permission(action, IRCLI_DOCUMENTS, audience="evidence-admin")
       for action in _DOCUMENT_WRITES},
}

# What commands outside the step engine do, by audience.
OPERATIONS: dict[str, tuple[str, tuple[PermissionLike, ...]]] = {
    "evidence-kms": ("contain", (
        Permission(("kms:GenerateDataKey", "kms:Decrypt"), "arn:{partition}:kms:*:*:key/*",
                   via_service("s3")),)),
    "evidence-verify": ("contain", (
        "s3:ListBucket", "s3:ListBucketVersions", "s3:GetObject", "s3:GetObjectVersion")),
    "evidence-bucket-setup": ("evidence-admin", (
        "s3:CreateBucket", "s3:ListBucket", "s3:GetBucketObjectLockConfiguration",
        "s3:PutBucketObjectLockConfiguration", "s3:GetBucketVersioning",
        "s3:PutBucketVersioning", "s3:GetBucketOwnershipControls",
        "s3:PutBucketOwnershipControls", "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock", "s3:GetEncryptionConfiguration",
        "s3:PutEncryptionConfiguration", "s3:GetBucketPolicy", "s3:PutBucketPolicy",
        "s3:GetBucketTagging", "s3:PutBucketTagging", "kms:DescribeKey")),
    "ssm-documents-deploy": ("evidence-admin", (
        "ssm:ListDocuments", "ssm:DescribeDocument", "ssm:GetDocument", *_DOCUMENT_WRITES)),
}


# Statements each policy carries against its own holder. disable-keys writes an inline deny
# on IAM users, and IAM cannot limit what an inline policy says: a responder that is an IAM
# user must at least never write one on itself.
GUARDS: dict[str, tuple[Permission, ...]] = {
    "contain": (Permission(("iam:PutUserPolicy", "iam:DeleteUserPolicy", "iam:UpdateAccessKey",
                            "iam:DeleteLoginProfile", "iam:TagUser", "iam:UntagUser"),
                           "arn:{partition}:iam::*:user/${aws:username}", effect="Deny"),),
}


def scoped(value: PermissionLike) -> Permission:
    """The declaration with ircli's default scope when it states none."""
    permission = as_permission(value)
    if not isinstance(value, str):
        return permission
    if value in DEFAULT_SCOPES:
        return DEFAULT_SCOPES[value]
    if value.startswith("s3:"):
        object_level = "Object" in value and "Bucket" not in value
        return Permission(value, EVIDENCE_CASES if object_level else EVIDENCE_BUCKET)
    return permission


def declarations() -> dict[str, tuple[str, list[Permission]]]:
    """Every step's and operation's permissions (apply and undo), scoped, with its audience."""
    found: dict[str, tuple[str, list[Permission]]] = {}
    for name, cls in all_steps().items():
        found[name] = (cls.audience, [scoped(p) for p in (*cls.permissions,
                                                           *cls.undo_permissions)])
    from ircli.evidence.shipper import CaseShipper

    found["evidence-shipping"] = ("contain", [scoped(p) for p in CaseShipper.permissions])
    for name, (audience, permissions) in OPERATIONS.items():
        found[name] = (audience, [scoped(p) for p in permissions])
    for audience, guards in GUARDS.items():
        found[f"guard-{audience}"] = (audience, list(guards))
    return dict(sorted(found.items()))


def required_actions(audience: str | None = None) -> dict[str, list[str]]:
    """IAM actions per step and operation (of one audience, or all)."""
    return {name: sorted({a for p in permissions for a in p.action_list if p.effect == "Allow"
                          and (audience is None or (p.audience or owner) == audience)})
            for name, (owner, permissions) in declarations().items()}


def least_privilege_policy(audience: str = "contain", *, bucket: str | None = None,
                           partition: str = "aws", dns_suffix: str = "amazonaws.com"
                           ) -> dict[str, Any]:
    """The policy for ``audience``: one statement per resource scope and condition."""
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}")
    values = {"partition": partition, "dns_suffix": dns_suffix, "bucket": bucket or UNSET_BUCKET}
    chosen = [permission for owner, permissions in declarations().values()
              for permission in permissions if (permission.audience or owner) == audience]
    if audience == "contain":
        chosen += _forensics_check(partition, values)
    return policy_for(chosen, label=audience, values=values)


def _forensics_check(partition: str, values: dict[str, str]) -> list[Permission]:
    """`ircli forensics check`'s calls, on the configured forensics resources (none without a
    complete ``[forensics]``: there is nothing to scope them to)."""
    from ircli.forensics.check import CHECK_PERMISSIONS, check_values
    from ircli.forensics.settings import load_forensics

    settings = load_forensics(strict=False)
    if settings is None or settings.problems():
        return []
    values.update(check_values(settings, partition))
    return list(CHECK_PERMISSIONS)


def _sid(audience: str, n: int, permission: Permission) -> str:
    """``IrcliContain03OnAnyResource``: the audience, a number, and what the scope is."""
    if permission.effect == "Deny":
        what = "NeverOnItself"
    elif permission.resource_list == ("*",):
        what = "AnyResource" if not permission.conditions else "AnyResourceConditioned"
    else:
        tail = permission.resource_list[0].rsplit(":", 1)[-1]
        what = "".join(part.capitalize() for part in _words(tail))
    head = "".join(part.capitalize() for part in audience.split("-"))
    return f"Ircli{head}{n:02d}{what}"[:100]


def _words(text: str) -> Iterable[str]:
    word = ""
    for ch in text:
        if ch.isalnum():
            word += ch
        elif word:
            yield word
            word = ""
    if word:
        yield word


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, filled in values.items():
            value = value.replace("{" + name + "}", filled)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_fill(v, values) for v in value]
    return value


def partition_of(region: str | None) -> tuple[str, str]:
    """The partition and DNS suffix of ``region`` (``aws``, ``amazonaws.com`` without one)."""
    if not region:
        return "aws", "amazonaws.com"
    import botocore.session
    from botocore.regions import EndpointResolver

    session = botocore.session.get_session()
    endpoints = session.get_component("data_loader").load_data("endpoints")
    resolver = EndpointResolver(endpoints)
    partition = str(resolver.get_partition_for_region(region))
    return partition, str(resolver.get_partition_dns_suffix(partition))


def policy_for(permissions: Iterable[PermissionLike], *, label: str, values: dict[str, str]
               ) -> dict[str, Any]:
    """A policy granting exactly ``permissions`` (scoped as the audiences' are), its templates
    filled from ``values`` (``partition``, ``dns_suffix``, ``bucket``): the execution role of
    a compiled runbook (:mod:`ircli.automation.template`)."""
    groups: dict[str, tuple[Permission, set[str]]] = {}
    for permission in (scoped(p) for p in permissions):
        key = json.dumps([permission.effect, permission.resource_list, permission.conditions],
                         sort_keys=True)
        groups.setdefault(key, (permission, set()))[1].update(permission.action_list)
    statements = []
    for n, (permission, actions) in enumerate(
            sorted(groups.values(), key=lambda g: (g[0].effect == "Deny",
                                                   g[0].resource_list != ("*",),
                                                   g[0].resource_list))):
        resources = [_fill(r, values) for r in permission.resource_list]
        statement: dict[str, Any] = {
            "Sid": _sid(label, n, permission), "Effect": permission.effect,
            "Action": sorted(actions),
            "Resource": resources[0] if len(resources) == 1 else resources}
        if permission.conditions:
            statement["Condition"] = _fill(permission.conditions, values)
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}
