"""`ircli runbook coverage`: every GuardDuty finding type and what answers it."""

from __future__ import annotations

from typing import Any

from ircli.cli.options import GlobalOptions


def render_coverage(opts: GlobalOptions, document: dict[str, Any]) -> None:
    """JSON (with --query), or a table: one line per type and shape, runbook or reason."""
    from ircli.cli.output import emit_json
    from ircli.cli.plain import print_rows

    if opts.json:
        emit_json(document, opts)
        return
    rows = []
    for row in document["coverage"]:
        for answer in row["answers"]:
            rows.append([row["type"], answer["when"] or "-",
                         answer["runbook"] or "-",
                         "" if answer["runbook"] else row["reason"] or "UNANSWERED"])
    print_rows(["FINDING TYPE", "WHEN", "RUNBOOK", "REASON (no runbook)"], rows,
               title=f"{document['types']} GuardDuty finding types "
                     f"({document['answered_by_runbook']} answered by a runbook, "
                     f"{document['with_reason']} with a stated reason); source: "
                     f"{document['source']}")
