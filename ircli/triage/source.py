"""Where a finding comes from: a file, stdin, or GuardDuty's ``GetFindings``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import botocore.exceptions

from ircli.core.awserrors import error_code, translate
from ircli.core.errors import InvalidInput, NotFound, UserError
from ircli.core.session import AwsSession
from ircli.triage.finding import Finding, parse_finding, parse_findings


def read_finding(source: str, stdin: IO[str]) -> Finding:
    """The one finding in a JSON file, or on stdin for ``-``."""
    findings = read_findings(source, stdin)
    if len(findings) != 1:
        raise InvalidInput(f"The input holds {len(findings)} findings; this reads one.",
                           "Pass one finding at a time.")
    return findings[0]


def read_findings(source: str, stdin: IO[str]) -> list[Finding]:
    """Every finding in a JSON file, or on stdin for ``-``."""
    if source == "-":
        text, where = stdin.read(), "stdin"
    else:
        path = Path(source)
        if not path.is_file():
            raise NotFound(f"There is no finding file {path}.",
                           "Pass a JSON file, `-` for stdin, or --finding-id ID.")
        text, where = path.read_text(encoding="utf-8"), str(path)
    try:
        document: Any = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidInput(f"The finding in {where} is not valid JSON (line {err.lineno}: "
                           f"{err.msg}).", "Pass the finding as GuardDuty exports it.") from err
    return parse_findings(document)


def fetch_finding(aws: AwsSession, finding_id: str, detector_id: str | None) -> Finding:
    """``GetFindings`` for one id (the detector is the region's only one when not given)."""
    guardduty = aws.client("guardduty")
    try:
        if detector_id is None:
            detectors = guardduty.list_detectors().get("DetectorIds", [])
            if len(detectors) != 1:
                raise UserError(f"Region {aws.region} has {len(detectors)} GuardDuty detectors.",
                                "Pass --detector-id.")
            detector_id = str(detectors[0])
        found = guardduty.get_findings(DetectorId=detector_id, FindingIds=[finding_id])
    except botocore.exceptions.ClientError as err:
        if error_code(err) in ("404", "NotImplemented") or \
                "not yet implemented" in str(err).lower():
            raise UserError("This endpoint does not implement GuardDuty GetFindings (the local "
                            "emulator does not).",
                            "Save the finding as JSON (console: Export; or the EventBridge "
                            "event) and pass the file.") from err
        known = translate(err)
        if known is not None:
            raise known from err
        raise
    findings = found.get("Findings", [])
    if not findings:
        raise NotFound(f"GuardDuty has no finding {finding_id} in detector {detector_id}.",
                       "Check the id, the detector and --region.")
    return parse_finding(findings[0])


def security_hub_findings(aws: AwsSession, filters: dict[str, str],
                          limit: int = 100) -> list[Finding]:
    """GuardDuty's findings as Security Hub aggregates them (``GetFindings``), newest first.

    ``filters`` are ASFF string fields (``SeverityLabel=HIGH``, ``AwsAccountId=…``); only
    active GuardDuty findings are read, whatever else is asked.
    """
    criteria: dict[str, Any] = {
        "ProductName": [{"Value": "GuardDuty", "Comparison": "EQUALS"}],
        "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}]}
    for key, value in filters.items():
        criteria.setdefault(key, []).append({"Value": value, "Comparison": "EQUALS"})
    hub = aws.client("securityhub")
    found: list[dict[str, Any]] = []
    for page in hub.get_paginator("get_findings").paginate(
            Filters=criteria, SortCriteria=[{"Field": "UpdatedAt", "SortOrder": "desc"}]):
        found.extend(page["Findings"])
        if len(found) >= limit:
            break
    if not found:
        raise NotFound("Security Hub holds no active GuardDuty finding that matches.",
                       "Check --region (the aggregation region) and --filter.")
    return parse_findings(found[:limit])
