"""The names and tag keys ircli gives what it creates, so re-runs find them again."""

from __future__ import annotations

from typing import Literal, get_args

TAG_CASE = "ircli:case-id"
TAG_STATUS = "ircli:status"
TAG_CONTAINED_AT = "ircli:contained-at"
TAG_CONTAINED_BY = "ircli:contained-by"
TAG_RELEASED_AT = "ircli:released-at"
TAG_INSTANCE = "ircli:instance-id"
TAG_DEVICE = "ircli:device"
TAG_MANAGED = "ircli:managed"

TRANSITION_GROUP = "ircli-transition"
SsmEgress = Literal["endpoints", "any", "none"]
SSM_EGRESS_MODES: tuple[str, ...] = get_args(SsmEgress)


def isolation_group_name(ssm_egress: str, analyst_sg: str | None) -> str:
    """One isolation group per VPC and per rule set: the name says which rules it holds."""
    name = f"ircli-isolation-{ssm_egress}"
    return f"{name}-from-{analyst_sg}" if analyst_sg else name


def deny_policy_name(instance_id: str) -> str:
    return f"ircli-contain-{instance_id}"
