"""Sharing a forensic copy with the forensics account only, in states (the compiled
share-forensic-copies): read the copy's ``createVolumePermission``, judge it, and make it hold
exactly the forensics account (never the ``all`` group). The CLI step does the same with
boto3 (:mod:`ircli.steps.forensic_copy`).
"""

from __future__ import annotations

from typing import Any

from ircli.core.asl import choice, pass_state, task

PERMISSION = "createVolumePermission"


def read_permission(next_state: str) -> dict[str, Any]:
    """Read the copy's createVolumePermission into ``$.perms`` (the list and its length)."""
    return task("ec2", "describeSnapshotAttribute",
                {"SnapshotId.$": "$.copy.id", "Attribute": PERMISSION},
                result_selector={"p.$": "$.CreateVolumePermissions",
                                 "n.$": "States.ArrayLength($.CreateVolumePermissions)"},
                result_path="$.perms", next_state=next_state, catch=None)


def only_the_forensics_account(exact: str, judge: str, yes: str, no: str
                               ) -> dict[str, dict[str, Any]]:
    """Two states: is ``$.perms`` exactly one grant, to the forensics account (``$.want``)?"""
    return {
        exact: pass_state({"has.$": "States.ArrayContains($.perms.p, $.want)"}, "$.exact",
                          judge),
        judge: choice([{"And": [{"Variable": "$.perms.n", "NumericEquals": 1},
                                {"Variable": "$.exact.has", "BooleanEquals": True}],
                        "Next": yes}], no),
    }


def share_only_with(n: str, account: str, next_state: str) -> dict[str, dict[str, Any]]:
    """Make the copy at ``$.copy.id`` shared with ``account`` alone: the ``all`` group and
    every other account removed, then the account added; then ``next_state``. The states are
    named ``<n>.Was`` .. ``<n>.Share``."""
    share = {"SnapshotId.$": "$.copy.id", "Attribute": PERMISSION}
    return {
        # What the copy's permission holds: anything but the forensics account goes.
        f"{n}.Was": task("ec2", "describeSnapshotAttribute", share,
                         result_selector={
                             "users.$": "$.CreateVolumePermissions[*].UserId",
                             "groups.$": "States.ArrayLength("
                                         "$.CreateVolumePermissions[*].Group)"},
                         result_path="$.was", next_state=f"{n}.Public", catch=None),
        f"{n}.Public": choice([{"Variable": "$.was.groups", "NumericGreaterThan": 0,
                                "Next": f"{n}.Private"}], f"{n}.Others"),
        f"{n}.Private": task("ec2", "modifySnapshotAttribute", {
            **share, "OperationType": "remove", "GroupNames": ["all"]},
            next_state=f"{n}.Others", catch=None,
            comment="someone made the copy public: private again"),
        f"{n}.Others": pass_state({"n.$": "States.ArrayLength($.was.users)"}, "$.nusers",
                                  f"{n}.AnyUser"),
        f"{n}.AnyUser": choice([{"Variable": "$.nusers.n", "NumericGreaterThan": 0,
                                 "Next": f"{n}.Strip"}], f"{n}.Share"),
        f"{n}.Strip": task("ec2", "modifySnapshotAttribute", {
            **share, "OperationType": "remove", "UserIds.$": "$.was.users"},
            next_state=f"{n}.Share", catch=None),
        f"{n}.Share": task("ec2", "modifySnapshotAttribute", {
            **share, "OperationType": "add", "UserIds": [account]},
            next_state=next_state, catch=None,
            comment="the forensics account only: never the all group"),
    }
