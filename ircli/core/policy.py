"""The least-privilege IAM policy ircli needs, generated from what each step declares."""

from __future__ import annotations

from typing import Any

from ircli.steps.catalog import all_steps


def required_actions() -> dict[str, list[str]]:
    """IAM actions per step (apply and undo), and for shipping the case as evidence."""
    from ircli.evidence.shipper import CaseShipper

    actions = {name: sorted({*cls.permissions, *cls.undo_permissions})
               for name, cls in all_steps().items()}
    actions["evidence-shipping"] = sorted(CaseShipper.permissions)
    return dict(sorted(actions.items()))


def least_privilege_policy() -> dict[str, Any]:
    """One statement per step, so a reviewer sees why each action is there."""
    statements = []
    for name, actions in required_actions().items():
        sid = "Ircli" + "".join(part.capitalize() for part in name.replace("_", "-").split("-"))
        statements.append({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": statements}
