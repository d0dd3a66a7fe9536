"""Import every step module so the registry is complete (policy, runbooks, meta-tests)."""

from __future__ import annotations

from ircli.analyst import (  # noqa: F401 - imported for their @register side effect
    grant,
    group,
    instance,
    network,
    role,
    volumes,
)
from ircli.core.step import STEPS, Step
from ircli.steps import (  # noqa: F401 - imported for their @register side effect
    advice,
    assumed_role,
    collect,
    collect_adopt,
    credentials,
    forensic_copy,
    identity,
    instance_state,
    isolate,
    lambda_fn,
    nacl,
    notify,
    protect,
    rds,
    role_sessions,
    s3_bucket,
    service,
    snapshots,
    tagging,
    tracked_paths,
    trail,
)


def all_steps() -> dict[str, type[Step]]:
    return dict(STEPS)
