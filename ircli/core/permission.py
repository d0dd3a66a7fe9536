"""What a step may do, and on what: an IAM action with its resource scope and conditions.

Steps declare ``permissions`` as plain action strings (any resource) or as :class:`Permission`
values naming the resources and conditions the action is limited to. ``ircli policy`` turns
the declarations into one policy per audience (who holds each is the :data:`AUDIENCES` key).

Templates in resources and condition values are filled in when the policy is printed:
``{partition}`` (``aws``, ``aws-cn``...), ``{dns_suffix}`` (``amazonaws.com``...) and
``{bucket}`` (the evidence bucket). Accounts and regions are ``*``: an identity policy acts in
its own account (other accounts' roles and keys need their own grants), and ircli runs in any
region.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

# Who holds which policy (`ircli policy --for NAME`).
AUDIENCES = {
    "contain": "the responder: contain, release, collect, disable-keys, revoke-sessions, "
               "block-ip, triage, runbooks, evidence sync and verify",
    "analyst": "whoever runs `ircli analyst launch|attach|detach|terminate`",
    "evidence-admin": "one-time set-up: `ircli evidence init|check` and `ircli ssm-docs deploy`",
    "contain-resources": "the responder too, for the runbooks whose only lever is a resource's "
                         "own policy (S3 bucket policy, Lambda resource policy and execution "
                         "role, a role's trust with --fix-trust): these may rewrite that policy "
                         "on any resource of the kind, so they are a grant of their own",
}

# The ARNs ircli's own things live under, shared by the steps that declare them.
IRCLI_POLICIES = "arn:{partition}:iam::*:policy/ircli/*"
ANY_ROLE = "arn:{partition}:iam::*:role/*"
ANALYST_ROLES = "arn:{partition}:iam::*:role/ircli-analyst-*"
ANALYST_PROFILES = "arn:{partition}:iam::*:instance-profile/ircli-analyst-*"
EVIDENCE_BUCKET = "arn:{partition}:s3:::{bucket}"
EVIDENCE_CASES = "arn:{partition}:s3:::{bucket}/cases/*"
IRCLI_DOCUMENTS = "arn:{partition}:ssm:*:*:document/ircli-*"
ANY_INSTANCE = "arn:{partition}:ec2:*:*:instance/*"
ANY_KMS_KEY = "arn:{partition}:kms:*:*:key/*"


def via_service(service: str) -> dict[str, dict[str, str]]:
    """KMS only when ``service`` calls it on the caller's behalf (``kms:ViaService``)."""
    return {"StringLike": {"kms:ViaService": f"{service}.*.{{dns_suffix}}"}}


@dataclass(frozen=True)
class Permission:
    """IAM ``actions`` allowed on ``resources`` when ``conditions`` hold.

    ``audience`` moves the permission to another policy than its step's (e.g. deploying
    ircli's SSM documents is set-up work, not the responder's).
    """

    actions: str | tuple[str, ...]
    resources: str | tuple[str, ...] = "*"
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    audience: str | None = None
    effect: str = "Allow"  # "Deny" for a guard the policy carries against its own holder

    @property
    def action_list(self) -> tuple[str, ...]:
        return (self.actions,) if isinstance(self.actions, str) else tuple(self.actions)

    @property
    def resource_list(self) -> tuple[str, ...]:
        return (self.resources,) if isinstance(self.resources, str) else tuple(self.resources)


PermissionLike: TypeAlias = "str | Permission"


def as_permission(value: PermissionLike) -> Permission:
    """A plain action string is that action on any resource."""
    return value if isinstance(value, Permission) else Permission(value)


def action_names(permissions: tuple[PermissionLike, ...]) -> tuple[str, ...]:
    """Every IAM action the declarations name, in order."""
    return tuple(a for p in permissions for a in as_permission(p).action_list)


# The analyst instance's role: passed to EC2 only, and only ircli's analyst roles.
PASS_ANALYST_ROLE = Permission("iam:PassRole", ANALYST_ROLES,
                               {"StringEquals": {"iam:PassedToService": "ec2.{dns_suffix}"}})
