"""Which instances a fleet run acts on: ids given, ids in a file, instances matching tags."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import IO, Any

from ircli.core.errors import InvalidInput, NotFound
from ircli.core.session import AwsSession

_TAG_FILTER = re.compile(r"^tag:([^=]+)=(.*)$")
_LIVE = ["pending", "running", "stopping", "stopped"]


def read_targets(stream: IO[str], where: str) -> list[str]:
    """One id per line; blank lines and ``#`` comments skipped."""
    found = []
    for line in stream.read().splitlines():
        value = line.split("#", 1)[0].strip()
        if value:
            found.append(value)
    if not found:
        raise InvalidInput(f"{where} names no target.", "Write one instance id per line.")
    return found


def parse_tag_filters(filters: Iterable[str]) -> list[dict[str, Any]]:
    """``tag:KEY=VALUE`` → EC2 filters (all must match)."""
    parsed = []
    for raw in filters:
        match = _TAG_FILTER.match(raw)
        if not match:
            raise InvalidInput(f"--filter {raw!r} is not tag:KEY=VALUE.",
                               "e.g. --filter tag:aws:autoscaling:groupName=web")
        parsed.append({"Name": f"tag:{match.group(1)}", "Values": [match.group(2)]})
    return parsed


def instances_matching(aws: AwsSession, filters: list[dict[str, Any]]) -> list[str]:
    """Live instances whose tags match every filter, in this account and region."""
    pages = aws.client("ec2").get_paginator("describe_instances").paginate(
        Filters=[*filters, {"Name": "instance-state-name", "Values": _LIVE}])
    found = [i["InstanceId"] for page in pages for r in page["Reservations"]
             for i in r["Instances"]]
    if not found:
        shown = ", ".join(f"{f['Name']}={f['Values'][0]}" for f in filters)
        raise NotFound(f"No live instance in {aws.region} matches {shown}.",
                       "Check the tag, --region and --account.")
    return found


def unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
