"""STUB of the runbook compiler (branch ``auto`` owns the real one, which replaces this file
at merge): the interface deploy/render are written against, compiling any runbook with
finding types to a single Pass state that records the finding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ircli.core.errors import IrcliError
from ircli.core.permission import Permission
from ircli.runbook.model import Runbook


class NotCompilable(IrcliError):
    """A runbook uses a step that has no Step Functions form."""


@dataclass(frozen=True)
class CompiledRunbook:
    name: str
    definition: dict[str, Any]
    finding_types: list[str]
    actions: list[Permission | str]  # IAM the execution role needs
    parameters: dict[str, str]  # deploy-time inputs, e.g. EvidenceBucket, TopicArn


def compile_runbook(runbook: Runbook, *, partition: str = "aws", bucket: str,
                    topic_arn: str) -> CompiledRunbook:
    if not runbook.finding_types:
        raise NotCompilable(f"The runbook {runbook.name} names no finding types.")
    definition = {
        "Comment": f"ircli runbook {runbook.name}",
        "StartAt": "Record",
        "States": {"Record": {"Type": "Pass", "Parameters": {
            "bucket": bucket, "topic": topic_arn, "finding.$": "$.detail.id"}, "End": True}},
    }
    return CompiledRunbook(
        runbook.name, definition, [p.pattern for p in runbook.finding_types],
        [Permission("s3:PutObject", "arn:{partition}:s3:::{bucket}/cases/*")],
        {"EvidenceBucket": bucket, "TopicArn": topic_arn})
