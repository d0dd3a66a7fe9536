"""``ircli lab demo``: the main job end to end on a throw-away emulator, in one command.

A web server is talking to a command-and-control server. The demo triages the GuardDuty
finding, runs the runbook it picks (containment and live response), verifies the evidence
in the bucket, keeps a copy of it on disk, and stops the emulator it started — every step
through the same code a responder runs against AWS.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ircli.core.clock import Clock
from ircli.core.engine import Emit
from ircli.core.session import AwsSession, AwsSettings
from ircli.evidence.verify import verify_case
from ircli.lab.control import lab_dir
from ircli.lab.evidence import what_it_shows
from ircli.lab.sandbox import lab_host
from ircli.lab.scenarios import HOSTS, LabAws, web_compromise
from ircli.lab.server import LAB_KEYS, REGION, LabServer
from ircli.ops.runbook import RunbookOptions, run_runbook
from ircli.ops.triage import finding_target, triage
from ircli.runbook.library import all_runbooks
from ircli.triage.finding import parse_finding


@dataclass
class DemoResult:
    summary: dict[str, Any]
    run: dict[str, Any]
    exit_code: int
    stages: list[dict[str, Any]] = field(default_factory=list)


def run_demo(clock: Clock, emit: Emit | None = None, *, sections: str = "all") -> DemoResult:
    """Start an emulator, play the web-compromise incident through ircli, stop the emulator."""
    stages: list[dict[str, Any]] = []

    def stage(name: str, started: float, detail: str) -> None:
        stages.append({"stage": name, "seconds": round(time.monotonic() - started, 2),
                       "detail": detail})
        if emit is not None:
            emit("stage", {"stage": name, "detail": detail})

    t = time.monotonic()
    with LabServer() as server:
        aws = LabAws(server.endpoint, REGION)
        seeded = web_compromise(aws, clock)
        stage("emulator", t, f"AWS emulator on {server.endpoint}, scenario web-compromise "
              "seeded (web tier in an Auto Scaling group behind a load balancer)")

        t = time.monotonic()
        finding = parse_finding(seeded.findings[0])
        triaged = triage(_session(server.endpoint), finding, all_runbooks())
        if triaged.match is None:
            raise RuntimeError("the shipped runbooks do not answer the demo's finding")
        runbook = triaged.match.runbook
        stage("triage", t, f"{finding.type} (severity {finding.severity:g}) → runbook "
              f"{runbook.name}")

        t = time.monotonic()
        options = RunbookOptions(
            target=finding_target(finding, runbook), reason=f"GuardDuty {finding.type}",
            evidence_bucket=seeded.evidence_bucket, finding=finding.raw,
            overrides={"collect": {"sections": sections}} if sections != "all" else {})
        result = run_runbook(_session(server.endpoint), clock, runbook, options, emit=emit)
        run = result.data
        stage("respond", t, f"{run['status']}: contain and collect via runbook {runbook.name}")

        t = time.monotonic()
        assert seeded.evidence_bucket is not None
        s3 = aws("s3")
        report = verify_case(s3, seeded.evidence_bucket, run["case_id"], clock.now())
        copy = _keep_copy(s3, seeded.evidence_bucket, run["case_id"])
        stage("verify", t, f"{len(report.objects)} evidence object(s) "
              f"{'verified' if report.ok else 'MISMATCHED'}")
    summary = _summary(seeded.resources, runbook.name, triaged.to_dict(), run, report.ok,
                       report.mismatches, len(report.objects), copy, seeded.notes)
    summary["collected_from"] = lab_host(HOSTS["web-compromise"]).label
    archives = sorted(copy.glob("collect/*.tar.gz"))
    summary["evidence_shows"] = [s.text for s in what_it_shows(
        archives[0], HOSTS["web-compromise"])] if archives else []
    code = int(result.exit_code) or (0 if report.ok else 3)
    return DemoResult(summary, run, code, stages)


def _session(endpoint: str) -> AwsSession:
    """A fresh session per operation, so each run counts only its own calls."""
    return AwsSession(AwsSettings(region=REGION, endpoint_url=endpoint,
                                  static_credentials=LAB_KEYS))


def _keep_copy(s3: Any, bucket: str, case_id: str) -> Path:
    """The emulator's bucket goes away with it: keep the evidence next to the case."""
    target = lab_dir() / "demo-evidence" / case_id
    prefix = f"cases/{case_id}/"
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            path = target / obj["Key"][len(prefix):]
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, obj["Key"], str(path))
    return target


def _summary(resources: dict[str, Any], runbook: str, triaged: dict[str, Any],
             run: dict[str, Any],
             verified: bool, mismatches: list[str], objects: int, copy: Path,
             notes: list[str]) -> dict[str, Any]:
    steps = {s["name"]: s for s in run["steps"]}
    collection = run.get("collection") or {}
    isolated = run.get("metrics", {}).get("isolated_after") or {}
    return {
        "compromised": {"instance_id": resources["suspect"], "name": run.get("instance_name"),
                        "auto_scaling_group": resources["asg"],
                        "finding": triaged["finding"]["type"],
                        "severity": triaged["finding"]["severity"],
                        "what_happened": triaged["what_happened"]},
        "runbook": runbook,
        "case_id": run["case_id"],
        "status": run["status"],
        "did": [_in_words(s, run) for s in steps.values()
                if s["status"] in ("done", "already-done") and s["name"] not in _QUIET],
        "isolation_group_id": run.get("isolation_group_id"),
        "seconds_to_isolation": isolated.get("seconds"),
        "api_calls_to_isolation": isolated.get("api_calls"),
        "snapshots": run.get("snapshots", []),
        "collection": {k: collection.get(k) for k in ("key", "size", "sha256", "version_id")},
        "evidence": {"bucket_prefix": f"s3://ircli-lab-evidence/cases/{run['case_id']}/",
                     "objects": objects, "verified": verified, "mismatches": mismatches,
                     "local_copy": str(copy)},
        "case_dir": run.get("case_dir"),
        "neighbour_untouched": resources["neighbour"],
        "notes": notes,
    }


_QUIET = ("resolve", "record")


def _in_words(step: dict[str, Any], run: dict[str, Any]) -> str:
    """One line a newcomer understands, for the steps the demo runs."""
    changes: list[str] = step["changes"]
    words = {
        "isolate": f"moved {sum('isolation group' in c for c in changes)} network interface(s) "
                   f"behind isolation group {run.get('isolation_group_id')} — through an "
                   "allow-all group first, so connections already open are cut too",
        "disassociate-eips": "took the Elastic IP off, so the internet cannot reach it",
        "protect": "termination protection on, shutdown means stop, volumes survive "
                   "termination: the evidence cannot be destroyed by accident",
        "snapshot": f"{len(run.get('snapshots', []))} crash-consistent EBS snapshots in one "
                    "call, tagged with the case",
        "collect": "ran the Linux live-response collector through SSM on the sandboxed host "
                   "(processes, sockets, persistence, keys, package integrity …) and verified "
                   "the archive's sha256 in the bucket",
    }.get(step["name"])
    return f"{step['title']}: {words or '; '.join(changes) or step['detail']}"
