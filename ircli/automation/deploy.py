"""Deploying a compiled runbook through the API, as registered units that plan, then apply.

Each unit (:mod:`ircli.automation.units`: the topic, the two roles, the state machine, the
dead-letter queue, the rule, its target) *plans* by reading AWS and returns the calls it would
make: ``--dry-run`` shows exactly these, and ``deploy`` makes exactly these. A unit that finds
its resource as wanted plans nothing ("up to date"); one whose configuration differs plans the
update in place. Names are fixed (:class:`~ircli.automation.template.Names`) and every
resource carries the tag ``ircli:automation=<runbook>``, written in the call that creates it:
that tag is the record of what deploy created. ``remove`` deletes only resources that carry it
(a same-named resource that is not ircli's is left alone, and deploy refuses to take it over),
and never touches the evidence bucket.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ircli.automation import units as _units  # noqa: F401 - registers every unit
from ircli.automation.unit import (
    UNITS,
    AutomationPlan,
    DeploySpec,
    Sleep,
    Target,
    UnitPlan,
)
from ircli.automation.units import role_propagating
from ircli.core.permission import Permission, PermissionLike
from ircli.core.session import AwsSession
from ircli.core.step import Call

__all__ = ["UNITS", "AutomationPlan", "DeploySpec", "Progress", "Sleep", "Target", "UnitPlan",
           "apply_plan", "deployer_permissions", "plan_deploy", "plan_remove"]


def plan_deploy(aws: AwsSession, spec: DeploySpec) -> AutomationPlan:
    """Read AWS; say what deploy would create or update (nothing: all up to date)."""
    return AutomationPlan("deploy", spec.target,
                          [cls().plan_deploy(aws, spec) for cls in UNITS.values()])


def plan_remove(aws: AwsSession, target: Target) -> AutomationPlan:
    """Read AWS; say what remove would delete: the rule first, so nothing starts meanwhile."""
    # the rule's target must go before the rule itself
    order = ["rule-target", "rule", *[n for n in reversed(UNITS)
                                      if n not in ("rule", "rule-target")]]
    return AutomationPlan("remove", target,
                          [UNITS[name]().plan_remove(aws, target) for name in order])


Progress = Callable[[str], None]


def apply_plan(aws: AwsSession, plan: AutomationPlan, *, sleep: Sleep = time.sleep,
               attempts: int = 8, progress: Progress | None = None) -> list[str]:
    """Make the planned calls in order; what was done, one line per call. ``progress`` hears
    of each wait (a role not yet visible to Step Functions)."""
    done = []
    for unit in plan.units:
        for call in unit.calls:
            _execute(aws, call, sleep, attempts, progress)
            done.append(call.summary)
    return done


def _execute(aws: AwsSession, call: Call, sleep: Sleep, attempts: int,
             progress: Progress | None) -> Any:
    from tenacity import (
        RetryCallState,
        Retrying,
        retry_if_exception,
        stop_after_attempt,
        wait_exponential,
    )

    def waiting(state: RetryCallState) -> None:
        if progress is not None and state.next_action is not None:
            progress(f"waiting {state.next_action.sleep:.0f} s for IAM to show the new role to "
                     f"Step Functions ({call.summary}; attempt {state.attempt_number} of "
                     f"{attempts})")

    method = getattr(aws.client(call.service), call.method)
    for attempt in Retrying(retry=retry_if_exception(role_propagating),
                            stop=stop_after_attempt(attempts),
                            wait=wait_exponential(multiplier=1, max=15), sleep=sleep,
                            before_sleep=waiting, reraise=True):
        with attempt:
            return method(**call.params)
    return None  # pragma: no cover - Retrying either returns or reraises


# deploy checks that the evidence bucket exists (HeadBucket) before anything is made
CHECK_BUCKET = Permission("s3:ListBucket", "arn:{partition}:s3:::{bucket}")


def deployer_permissions() -> list[PermissionLike]:
    """Every permission deploy, list and remove need (the units' declarations)."""
    return [CHECK_BUCKET, *(p for cls in UNITS.values() for p in cls.permissions)]
