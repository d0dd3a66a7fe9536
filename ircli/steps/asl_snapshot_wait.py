"""The bounded wait for a snapshot, or a forensic copy, to complete, in states: ``Wait``
``POLL_SECONDS``, ``DescribeSnapshots``, ``Choice``, with a count of polls from the snapshot's
size (the CLI's ceiling: 60 s per GiB, at least 300 s). The compiled share-forensic-copies
waits for its sources and its copies with it.
"""

from __future__ import annotations

from typing import Any

from ircli.core.asl import choice, pass_state, task

POLL_SECONDS = 30
MIN_POLLS = 10  # 300 s
POLLS_PER_GIB = 2  # 60 s per GiB: the limit is MathAdd(size, size)


def poll_states(p: str, kind: str, snapshot_id: str, size: str, done: str, failed: str,
                late: str) -> dict[str, dict[str, Any]]:
    """Poll one snapshot (the JSONPath ``snapshot_id``; its latest description at ``$.now.s``)
    until completed: ``done``; ``error``: ``failed``; more polls than ``size`` (GiB) allows:
    ``late``."""
    n = f"{p}.{kind}"
    return {
        f"{n}.Limit": pass_state({"i": 0, "max.$": f"States.MathAdd({size}, {size})"},
                                 "$.poll", f"{n}.Floor"),
        f"{n}.Floor": choice([{"Variable": "$.poll.max", "NumericLessThan": MIN_POLLS,
                               "Next": f"{n}.Min"}], f"{n}.Poll"),
        f"{n}.Min": {"Type": "Pass", "Result": {"i": 0, "max": MIN_POLLS}, "ResultPath": "$.poll",
                     "Next": f"{n}.Poll"},
        f"{n}.Poll": task("ec2", "describeSnapshots",
                          {"SnapshotIds.$": f"States.Array({snapshot_id})"},
                          result_selector={"s.$": "States.ArrayGetItem($.Snapshots, 0)"},
                          result_path="$.now", next_state=f"{n}.State", catch=None),
        f"{n}.State": choice([
            {"Variable": "$.now.s.State", "StringEquals": "completed", "Next": done},
            {"Variable": "$.now.s.State", "StringEquals": "error", "Next": failed},
            {"Variable": "$.poll.i", "NumericGreaterThanEqualsPath": "$.poll.max",
             "Next": late}], f"{n}.Wait"),
        f"{n}.Wait": {"Type": "Wait", "Seconds": POLL_SECONDS, "Next": f"{n}.Count"},
        f"{n}.Count": pass_state({"i.$": "States.MathAdd($.poll.i, 1)", "max.$": "$.poll.max"},
                                 "$.poll", f"{n}.Poll"),
    }
