"""`ircli ssm-docs`: offline validation, idempotent deployment, comparison with the shipped."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from ircli.catalog.steps import all_steps
from ircli.liveresponse.collection import SECTIONS, CollectSettings
from ircli.liveresponse.documents import (
    DOCUMENT_NAMES,
    LINUX_DOCUMENT,
    embedded_script,
    load_document,
    load_document_text,
)
from ircli.steps.collect import Collect
from tests.evidence.conftest import RunCli, cli, cli_json  # noqa: F401 - the shared fixture


def by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in data["documents"]}


def default_content(ssm: Any, name: str) -> str:
    return str(ssm.get_document(Name=name, DocumentFormat="YAML")["Content"])


def test_validate_passes_for_the_shipped_documents(cli: RunCli) -> None:  # noqa: F811
    code, data = cli_json(cli, "ssm-docs", "validate")
    assert code == 0 and data["ok"], data
    assert set(by_name(data)) == set(DOCUMENT_NAMES.values())
    code, out, _err = cli("ssm-docs", "validate")
    assert code == 0 and out.count("ok: ircli-") == 2


def test_deploy_creates_then_changes_nothing(cli: RunCli, server_clients: Any) -> None:  # noqa: F811
    code, planned = cli_json(cli, "ssm-docs", "deploy", "--dry-run")
    assert code == 0 and {d["action"] for d in planned["documents"]} == {"create"}
    assert server_clients("ssm").list_documents(
        Filters=[{"Key": "Owner", "Values": ["Self"]}])["DocumentIdentifiers"] == []
    code, first = cli_json(cli, "ssm-docs", "deploy", "--yes")
    assert code == 0 and {(d["action"], d["version"]) for d in first["documents"]} == {
        ("create", "1")}
    code, out, _err = cli("ssm-docs", "deploy", "--yes")
    assert code == 0 and out.count("unchanged: default version 1 is the shipped content") == 2
    ssm = server_clients("ssm")
    for platform, name in DOCUMENT_NAMES.items():
        assert default_content(ssm, name) == load_document_text(platform)
        tags = ssm.list_tags_for_resource(ResourceType="Document", ResourceId=name)["TagList"]
        assert {"Key": "ircli:managed", "Value": "true"} in tags


def test_deploy_replaces_other_content_and_restores_a_moved_default(
        cli: RunCli, server_clients: Any) -> None:  # noqa: F811
    ssm = server_clients("ssm")
    foreign = load_document("linux")
    foreign["description"] = "edited by someone else"
    ssm.create_document(Name=LINUX_DOCUMENT, Content=yaml.safe_dump(foreign),
                        DocumentType="Command", DocumentFormat="YAML")
    code, data = cli_json(cli, "ssm-docs", "deploy", "--yes", "--os", "linux")
    assert code == 0
    [doc] = data["documents"]
    assert (doc["action"], doc["version"], doc["default_version"]) == ("update", "2", "1")
    assert default_content(ssm, LINUX_DOCUMENT) == load_document_text("linux")

    ssm.update_document(Name=LINUX_DOCUMENT, Content=yaml.safe_dump(foreign | {
        "description": "another edit"}), DocumentVersion="$LATEST", DocumentFormat="YAML")
    ssm.update_document_default_version(Name=LINUX_DOCUMENT, DocumentVersion="3")
    code, listed = cli_json(cli, "ssm-docs", "list")
    assert code == 0
    row = by_name(listed)[LINUX_DOCUMENT]
    assert (row["matches_shipped"], row["action"], row["matching_version"]) == (
        False, "set-default", "2")
    _code, data = cli_json(cli, "ssm-docs", "deploy", "--yes", "--os", "linux")
    assert (data["documents"][0]["action"], data["documents"][0]["version"]) == (
        "set-default", "2")
    described = ssm.describe_document(Name=LINUX_DOCUMENT)["Document"]
    assert (described["DefaultVersion"], described["LatestVersion"]) == ("2", "3")


def test_list_shows_other_ircli_documents(cli: RunCli, server_clients: Any) -> None:  # noqa: F811
    server_clients("ssm").create_document(
        Name="ircli-custom-triage", DocumentType="Command", DocumentFormat="YAML",
        Content=load_document_text("linux"))
    code, data = cli_json(cli, "ssm-docs", "list")
    rows = by_name(data)
    assert code == 0 and rows[LINUX_DOCUMENT]["deployed"] is False
    assert rows["ircli-custom-triage"]["action"] == "not shipped by this ircli"


def test_sections_match_both_collectors() -> None:
    linux = re.search(r'IR_SECTIONS="([^"]+)"', embedded_script(load_document("linux")))
    windows = re.search(r"\$Sections = @\(([^)]+)\)", embedded_script(load_document("windows")))
    assert linux and windows
    assert tuple(linux.group(1).split()) == SECTIONS
    assert tuple(s.strip(" '") for s in windows.group(1).split(",")) == SECTIONS


def test_policy_grants_what_collect_calls(cli: RunCli) -> None:  # noqa: F811
    code, out, _err = cli("policy")
    actions = {a for s in json.loads(out)["Statement"] for a in s["Action"]}
    assert code == 0 and {"ssm:SendCommand", "ssm:GetCommandInvocation",
                          "ssm:DescribeInstanceInformation",
                          "ssm:CancelCommand", "s3:PutObject", "s3:GetObject"} <= actions
    # Deploying the documents is set-up work: the responder may run them, not rewrite them.
    _code, admin, _err = cli("policy", "--for", "evidence-admin")
    assert "ssm:CreateDocument" in {a for s in json.loads(admin)["Statement"]
                                    for a in s["Action"]} - actions
    step = all_steps()["collect"]()  # runbooks build steps by name
    assert isinstance(step, Collect) and step.settings == CollectSettings()
