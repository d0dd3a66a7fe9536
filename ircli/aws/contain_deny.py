"""One deny policy per role, listing every contained instance that uses the role.

IAM caps a role's inline policies at 10,240 characters in all, so one inline deny per
instance ran out at about 32 instances sharing a role and the rest kept live credentials.
Instead each role gets one ircli managed policy, ``ircli-contain-deny-<role>``, whose
``ec2:SourceInstanceARN`` lists name the contained instances; ``contain`` adds its instance,
``release`` removes it and deletes the policy with the last one.

IAM has no conditional write, so two responders may rewrite the list at once and one may drop
the other's instance. Within one process a lock per policy serialises the writers; across
processes every writer waits a moment after its write, reads the policy back and writes
again while its own change is missing (a bounded number of times), so a writer that read
the policy before our write and wrote after it is caught.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ircli.aws import iam_managed
from ircli.aws.iam_policies import contain_deny, contained_ids, policy_size
from ircli.core.errors import StepFailed
from ircli.core.session import AwsSession

ATTEMPTS = 5
SETTLE_SECONDS = 1.0  # time for a concurrent writer's version to land before we check ours

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def deny_policy_name(role: str) -> str:
    return f"ircli-contain-deny-{role}"


def capacity() -> int:
    """How many instances one deny policy can name under IAM's managed-policy quota."""
    count = 1
    while policy_size(contain_deny(f"i-{n:017x}" for n in range(count + 1))) \
            <= iam_managed.MANAGED_POLICY_MAX_CHARS:
        count += 1
    return count


@dataclass
class DenyState:
    """What the role's deny policy holds right now."""

    instance_ids: set[str]
    attached: bool
    exists: bool
    tampered: bool = False  # it says more or other than ircli writes (an Allow, say)


def read_state(aws: AwsSession, role: str, arn: str) -> DenyState:
    iam = aws.client("iam")
    document = iam_managed.read(iam, arn)
    attached = document is not None and iam_managed.is_attached(iam, role, arn)
    ids = contained_ids(document)
    tampered = document is not None and (not ids or document != contain_deny(ids))
    return DenyState(ids, attached, document is not None, tampered)


def add_instance(aws: AwsSession, role: str, arn: str, instance_id: str,
                 sleep: Callable[[float], None]) -> None:
    """Make the role's deny policy name ``instance_id`` (and be attached); verified."""
    iam = aws.client("iam")

    def change() -> None:
        state = read_state(aws, role, arn)
        if instance_id not in state.instance_ids or state.tampered:
            document = contain_deny(state.instance_ids | {instance_id})
            if policy_size(document) > iam_managed.MANAGED_POLICY_MAX_CHARS:
                raise StepFailed(
                    f"The deny policy of role {role} already names {len(state.instance_ids)} "
                    f"instances, as many as IAM's policy size quota allows; {instance_id} "
                    "keeps its credentials.",
                    "Run contain again with --revoke-role-sessions (denies every older "
                    "session of the role) or --detach-profile.")
            iam_managed.write(iam, arn, document,
                              f"ircli: deny the credentials of contained instances of {role}",
                              exists=state.exists)
        if not state.attached:
            iam.attach_role_policy(RoleName=role, PolicyArn=arn)

    def done() -> bool:
        state = read_state(aws, role, arn)
        return instance_id in state.instance_ids and state.attached and not state.tampered

    _converge(arn, change, done, sleep,
              f"{instance_id} is not in the deny policy of role {role} after {ATTEMPTS} writes")


def remove_instance(aws: AwsSession, role: str, arn: str, instance_id: str,
                    sleep: Callable[[float], None]) -> None:
    """Drop ``instance_id`` from the role's deny policy; the last one deletes the policy."""
    iam = aws.client("iam")

    def change() -> None:
        state = read_state(aws, role, arn)
        rest = state.instance_ids - {instance_id}
        if instance_id not in state.instance_ids:
            return
        if rest:
            iam_managed.write(iam, arn, contain_deny(rest),
                              f"ircli: deny the credentials of contained instances of {role}",
                              exists=True)
            return
        if read_state(aws, role, arn).instance_ids != state.instance_ids:
            return  # someone added an instance meanwhile: go round again
        if state.attached:
            with contextlib.suppress(iam.exceptions.NoSuchEntityException):
                iam.detach_role_policy(RoleName=role, PolicyArn=arn)
        iam_managed.delete(iam, arn)

    def done() -> bool:
        return instance_id not in read_state(aws, role, arn).instance_ids

    _converge(arn, change, done, sleep,
              f"{instance_id} is still in the deny policy of role {role} after {ATTEMPTS} "
              "writes")


def _converge(arn: str, change: Callable[[], None], done: Callable[[], bool],
              sleep: Callable[[float], None], failure: str) -> None:
    for attempt in range(ATTEMPTS):
        with _lock(arn):  # writers of this process never interleave a read and a write
            change()
        sleep(SETTLE_SECONDS * (attempt + 1))  # outside the lock: the waits overlap
        if done():
            return
    raise StepFailed(f"{failure}: other writers keep changing it.",
                     "Run the command again; `aws iam get-policy-version` shows the policy.")


def _lock(arn: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(arn, threading.Lock())
