"""Put the shipped live-response documents into SSM, idempotently, and say how they compare.

A collector runs as root on a suspect host, so what runs must be exactly what ircli ships:
``deploy`` (and ``collect``, before every send) compares the document's default version with
the shipped YAML and only then creates it, adds a version, or moves the default. Versions are
compared by SSM's sha256 first and by parsed content second, because SSM may store a document
in a normalised form whose bytes differ from what was sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import botocore.exceptions

from ircli.core.awserrors import error_code
from ircli.core.step import Call, Ref, resolve_refs
from ircli.liveresponse.documents import (
    DOCUMENT_NAMES,
    document_json,
    document_path,
    load_document_text,
    parse_document,
    validate_document,
)
from ircli.liveresponse.errors import LiveResponseError

DOCUMENT_FORMAT = "YAML"
MANAGED_TAG = {"Key": "ircli:managed", "Value": "true"}
OLDER_VERSIONS_CHECKED = 10  # a rollback to an older ircli finds its version among these
PLATFORMS = tuple(DOCUMENT_NAMES)


class DeployError(LiveResponseError):
    """A document of ours cannot be deployed as shipped."""


@dataclass
class DocumentStatus:
    """One shipped document and what SSM holds under its name."""

    name: str
    platform: str
    shipped_sha256: str
    deployed: bool = False
    default_version: str | None = None
    latest_version: str | None = None
    matching_version: str | None = None  # a version whose content is the shipped one

    @property
    def matches(self) -> bool:
        return self.deployed and self.matching_version == self.default_version

    @property
    def action(self) -> str:
        """create | update | set-default | unchanged."""
        if not self.deployed:
            return "create"
        if self.matches:
            return "unchanged"
        return "set-default" if self.matching_version else "update"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "matches_shipped": self.matches, "action": self.action}


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def inspect_document(ssm: Any, platform: str) -> DocumentStatus:
    """Read what SSM holds for the shipped document of ``platform`` (read-only)."""
    name, text = DOCUMENT_NAMES[platform], load_document_text(platform)
    status = DocumentStatus(name, platform, sha256_text(text))
    try:
        desc = ssm.describe_document(Name=name)["Document"]
    except botocore.exceptions.ClientError as err:
        if error_code(err) == "InvalidDocument":
            return status
        raise
    if desc.get("DocumentType") != "Command":
        raise DeployError(
            f"SSM document {name} exists but is a {desc.get('DocumentType')} document, not a "
            "Command document.",
            f"Delete or rename that document; ircli owns the name {name}.")
    status.deployed = True
    status.default_version = str(desc.get("DefaultVersion") or desc.get("DocumentVersion"))
    status.latest_version = str(desc.get("LatestVersion") or status.default_version)
    candidates = [status.default_version, status.latest_version]
    if status.latest_version.isdigit():
        newest = int(status.latest_version)
        candidates += [str(v) for v in range(newest - 1, max(0, newest - 1 -
                                                               OLDER_VERSIONS_CHECKED), -1)]
    known = {status.default_version: desc.get("Hash")}
    for version in dict.fromkeys(candidates):
        if _same_content(ssm, name, version, known.get(version), text):
            status.matching_version = version
            break
    return status


def _same_content(ssm: Any, name: str, version: str, known_hash: str | None, text: str) -> bool:
    """Is ``version`` of ``name`` the shipped ``text``? Hash first, parsed content second."""
    digest = known_hash
    if digest is None:
        try:
            digest = ssm.describe_document(Name=name, DocumentVersion=version)["Document"].get(
                "Hash")
        except botocore.exceptions.ClientError:
            return False  # a deleted version
    if digest == sha256_text(text):
        return True
    content = ssm.get_document(Name=name, DocumentVersion=version,
                               DocumentFormat=DOCUMENT_FORMAT)["Content"]
    return bool(parse_document(content) == parse_document(text))


def deploy_calls(status: DocumentStatus, values: dict[str, Any]) -> tuple[list[Call], str | Ref]:
    """The calls that make the shipped content the default version, and that version.

    The version is a :class:`Ref` when SSM assigns it during the calls (written to ``values``).
    """
    name, text = status.name, load_document_text(status.platform)
    produced = Ref(f"document-version:{name}")

    def store(response: dict[str, Any]) -> None:
        values[produced.name] = str(response["DocumentDescription"]["DocumentVersion"])

    if status.action == "unchanged":
        assert status.default_version is not None
        return [], status.default_version
    if status.action == "set-default":
        assert status.matching_version is not None
        return [Call("ssm", "update_document_default_version",
                     {"Name": name, "DocumentVersion": status.matching_version},
                     f"make version {status.matching_version} of {name} (the shipped content) "
                     "the default")], status.matching_version
    if status.action == "create":
        return [Call("ssm", "create_document", {
            "Name": name, "Content": text, "DocumentType": "Command",
            "DocumentFormat": DOCUMENT_FORMAT, "Tags": [MANAGED_TAG]},
            f"create SSM document {name}", on_result=store)], produced
    return [
        Call("ssm", "update_document", {"Name": name, "Content": text,
                                        "DocumentVersion": "$LATEST",
                                        "DocumentFormat": DOCUMENT_FORMAT},
             f"add the shipped content to {name} as a new version", on_result=store),
        Call("ssm", "update_document_default_version", {"Name": name, "DocumentVersion": produced},
             f"make the new version of {name} the default"),
    ], produced


def apply_calls(client: Callable[[str], Any], calls: list[Call], values: dict[str, Any]) -> None:
    """Make ``calls`` in order outside a run (``ssm-docs deploy``); refs come from ``values``."""
    for call in calls:
        response = getattr(client(call.service), call.method)(**resolve_refs(call.params, values))
        if call.on_result is not None:
            call.on_result(response)


def deploy(client: Callable[[str], Any], platforms: tuple[str, ...] = PLATFORMS, *,
           dry_run: bool = False) -> list[dict[str, Any]]:
    """Deploy (or, with ``dry_run``, plan) each platform's document; one report per document."""
    reports = []
    for platform in platforms:
        status = inspect_document(client("ssm"), platform)
        values: dict[str, Any] = {}
        calls, version = deploy_calls(status, values)
        if not dry_run:
            apply_calls(client, calls, values)
        report = status.to_dict()
        report.update(changes=[c.summary for c in calls], dry_run=dry_run,
                      version=version if isinstance(version, str) else values.get(version.name))
        reports.append(report)
    return reports


def list_documents(ssm: Any) -> list[dict[str, Any]]:
    """The shipped documents as SSM holds them, then other ``ircli-`` documents of the account."""
    rows = [inspect_document(ssm, platform).to_dict() for platform in PLATFORMS]
    shipped = {row["name"] for row in rows}
    for page in ssm.get_paginator("list_documents").paginate(
            Filters=[{"Key": "Owner", "Values": ["Self"]}]):
        for doc in page.get("DocumentIdentifiers", []):
            if doc["Name"].startswith("ircli-") and doc["Name"] not in shipped:
                rows.append({"name": doc["Name"], "platform": None, "deployed": True,
                             "default_version": doc.get("DocumentVersion"),
                             "matches_shipped": None, "action": "not shipped by this ircli"})
    return rows


def validate_shipped() -> list[dict[str, Any]]:
    """Offline checks of every shipped document (what ``ssm-docs validate`` reports)."""
    reports = []
    for platform, name in DOCUMENT_NAMES.items():
        text = load_document_text(platform)
        try:
            doc = parse_document(text)
            problems = validate_document(doc)
            size = len(document_json(doc).encode("utf-8"))
        except LiveResponseError as err:
            problems, size = [err.message], 0
        reports.append({"name": name, "platform": platform, "path": str(document_path(platform)),
                        "sha256": sha256_text(text), "json_bytes": size, "ok": not problems,
                        "problems": problems})
    return reports
