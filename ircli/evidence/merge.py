"""Merging two writers' ``case.json``: what this writer changed goes over the other's."""

from __future__ import annotations

from typing import Any


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # a key one side does not hold (or no base at all)

def merge(base: Any, local: Any, remote: Any, path: tuple[str, ...] = ()) -> Any:
    """Three-way merge: what this writer changed since ``base`` (what it last read or wrote)
    goes over ``remote``; everything else of ``remote`` stays. Dicts merge key by key (step
    records are keyed by record_key), lists that both extended keep both extensions. With no
    base (``MISSING``: a case shipped before this layout), nothing of either side is dropped
    and this writer's value wins where both hold one. Raises :class:`ValueError` naming the
    field both writers changed differently."""
    if local == remote:
        return local
    if base is not MISSING:
        if local == base:
            return remote
        if remote == base:
            return local
    if isinstance(local, dict) and isinstance(remote, dict):
        old = base if isinstance(base, dict) else {}
        no_base = base is MISSING
        out: dict[str, Any] = {}
        for key in [*remote, *(k for k in local if k not in remote)]:
            value = merge(MISSING if no_base else old.get(key, MISSING),
                          local.get(key, MISSING), remote.get(key, MISSING), (*path, key))
            if value is not MISSING:
                out[key] = value
        return out
    if isinstance(local, list) and isinstance(remote, list):
        start = base if isinstance(base, list) else []
        if local[:len(start)] == start and remote[:len(start)] == start:
            added = [x for x in local[len(start):] if x not in remote[len(start):]]
            return [*remote, *added]
    if base is MISSING:
        return remote if local is MISSING else local
    raise ValueError(".".join(path) or "the whole record")
