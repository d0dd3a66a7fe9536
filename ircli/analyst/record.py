"""What the analyst commands write to the case: every resource they created, as they create it.

The case's ``analyst`` target keeps a ``created`` list; cleanup removes exactly what is in it
(and what carries the case's tags), never anything ircli found already there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ircli.core.clock import iso
from ircli.core.engine import RunContext, dig

ANALYST_TARGET = "analyst"


def remember(ctx: RunContext, kind: str, resource_id: str, **details: Any) -> None:
    """Add one created resource to the case record and save it at once (crash-safe)."""
    created: list[dict[str, Any]] = ctx.record.setdefault("created", [])
    if not any((c["kind"], c["id"]) == (kind, resource_id) for c in created):
        created.append({"kind": kind, "id": resource_id, "at": iso(ctx.clock.now()), **details})
    ctx.save()


def remember_result(ctx: RunContext, kind: str, path: str,
                    **details: Any) -> Callable[[dict[str, Any]], None]:
    """An ``on_result`` hook that records the id found at ``path`` in the response."""
    return lambda response: remember(ctx, kind, str(dig(response, path)), **details)


def created_ids(record: dict[str, Any], kind: str) -> list[str]:
    return [c["id"] for c in record.get("created", []) if c["kind"] == kind]
