"""Offline checks of the shipped SSM documents, the builder, and agent-style rendering."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ircli.liveresponse import documents as d
from ircli.liveresponse.errors import ParameterError

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = {"linux": "linux.sh", "windows": "windows.ps1"}
URL = ("https://bucket.s3.us-east-1.amazonaws.com/cases/c-1/collect/i-0abc.tar.gz?"
       "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20240101%2Fus-east-1%2Fs3"
       "%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
       "&X-Amz-Signature=abcdef0123")


@pytest.mark.parametrize("platform", ["linux", "windows"])
def test_shipped_documents_validate(platform: str) -> None:
    doc = d.load_document(platform)
    assert d.validate_document(doc) == []
    assert len(d.document_json(doc).encode()) <= d.MAX_DOCUMENT_BYTES
    assert len(d.load_document_text(platform).encode()) <= d.MAX_DOCUMENT_BYTES


@pytest.mark.parametrize("platform", ["linux", "windows"])
def test_embedded_script_equals_source_and_build_is_current(platform: str) -> None:
    script = (ROOT / "ssm_documents" / "collectors" / SCRIPTS[platform]).read_text()
    assert d.embedded_script(d.load_document(platform)) == script
    import importlib.util

    spec = importlib.util.spec_from_file_location("build", ROOT / "ssm_documents" / "build.py")
    assert spec and spec.loader
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert build.render(platform) == d.load_document_text(platform), "run ssm_documents/build.py"


def _reasons(doc: dict[str, Any]) -> str:
    return "\n".join(d.validate_document(doc))


def test_bad_documents_are_rejected_with_a_named_reason() -> None:
    good = d.load_document("linux")
    bad = copy.deepcopy(good)
    bad["mainSteps"][0]["inputs"]["runCommand"] = ["echo hi", "exit 194"]
    assert "exits 194" in _reasons(bad)
    bad = copy.deepcopy(good)
    del bad["parameters"]["CaseId"]["allowedPattern"]
    assert "parameter CaseId: missing allowedPattern" in _reasons(bad)
    bad = copy.deepcopy(good)
    bad["parameters"]["AwsSecretAccessKey"] = {"type": "String", "description": "x",
                                                "allowedPattern": "^.*$"}
    assert "AwsSecretAccessKey: credential-like" in _reasons(bad)
    bad = copy.deepcopy(good)
    bad["mainSteps"][0]["inputs"]["runCommand"] = ["echo " + "x" * 70_000]
    assert "exceeds the 64 KB" in _reasons(bad)
    bad = copy.deepcopy(good)
    del bad["mainSteps"][0]["precondition"]
    assert "precondition" in _reasons(bad)
    bad = copy.deepcopy(good)
    bad["schemaVersion"] = "1.2"
    assert "schemaVersion" in _reasons(bad)
    bad = copy.deepcopy(good)
    bad["mainSteps"][0]["inputs"]["runCommand"] = ["echo {{ Nope }}"]
    assert "undeclared parameter Nope" in _reasons(bad)


def test_windows_script_never_uses_reboot_exit_codes() -> None:
    text = (ROOT / "ssm_documents" / "collectors" / "windows.ps1").read_text()
    assert not re.search(r"exit\s+(194|3010|168|169)\b", text, re.I)
    assert re.search(r"\bexit \$", text), "Windows script must end with an explicit exit"


def test_render_substitutes_like_the_agent_and_validates_first() -> None:
    doc: dict[str, Any] = {"schemaVersion": "2.2", "parameters": {
        "A": {"type": "String", "description": "a", "allowedPattern": "^[a-z]+$"},
        "U": {"type": "String", "description": "u", "interpolationType": "ENV_VAR",
              "allowedPattern": "^https://[A-Za-z0-9./?&=%_-]+$"},
        "B": {"type": "String", "description": "b", "default": "7", "allowedPattern": "^[0-9]$"}},
        "mainSteps": [{"action": "aws:runShellScript", "name": "s",
                       "inputs": {"timeoutSeconds": "{{B}}", "runCommand": [
                           "echo {{ A }} {{A}}", 'u="{{ U }}"', "b={{  B  }}"]}}]}
    step = d.render_step(doc, {"A": ["abc"], "U": ["https://h/x?a=1&b=2"]})
    assert step.commands == 'echo abc abc\nu="https://h/x?a=1&b=2"\nb=7'
    assert step.env == {"SSM_U": "https://h/x?a=1&b=2"}
    assert step.timeout_seconds == 7
    doc["parameters"]["B"]["allowedPattern"] = "^[0-9]+$"
    assert d.render_step(doc, {"A": "a", "U": "https://h/x", "B": "3"}).timeout_seconds == 3600
    with pytest.raises(ParameterError, match="allowedPattern"):
        d.render_commands(doc, {"A": "abc; rm -rf /", "U": "https://h/x"})
    with pytest.raises(ParameterError, match="Required parameter A"):
        d.render_commands(doc, {"U": "https://h/x"})
    with pytest.raises(ParameterError, match="Unknown"):
        d.render_commands(doc, {"A": "a", "U": "https://h/x", "Z": "1"})


def test_presigned_url_and_defaults_pass_the_shipped_patterns() -> None:
    doc = d.load_document("linux")
    script = d.render_commands(doc, {"CaseId": "case-1", "UploadUrl": URL})
    assert f'IR_URL="{URL}"' in script and "{{" not in script
    for evil in ("https://h/x;reboot", 'https://h/x"$(id)"', "file:///etc/passwd",
                 "https://h/x`id`", "https://h/x y"):
        with pytest.raises(ParameterError):
            d.render_commands(doc, {"CaseId": "case-1", "UploadUrl": evil})
    with pytest.raises(ParameterError):
        d.render_commands(doc, {"CaseId": "../x", "UploadUrl": URL})
    with pytest.raises(ParameterError):
        d.render_commands(doc, {"CaseId": "c", "UploadUrl": URL, "TimeoutSeconds": "200000"})


def test_linux_script_is_posix_sh() -> None:
    script = ROOT / "ssm_documents" / "collectors" / "linux.sh"
    for shell in ("/bin/sh", "/bin/dash", "/bin/bash"):
        if shutil.which(shell):
            proc = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True)
            assert proc.returncode == 0, (shell, proc.stderr)
    text = script.read_text()
    for must in ("unalias -a", "unset LD_PRELOAD", "LC_ALL=C", "timeout_bin", "-k 5"):
        assert must.lower() in text.lower(), must


def _sections(platform: str) -> list[str]:
    text = (ROOT / "ssm_documents" / "collectors" / SCRIPTS[platform]).read_text()
    if platform == "linux":
        m = re.search(r'^IR_SECTIONS="([^"]+)"', text, re.M)
        assert m
        return m.group(1).split()
    m = re.search(r"^\$Sections = @\(([^)]*)\)", text, re.M)
    assert m
    return re.findall(r"'([a-z_]+)'", m.group(1))


def test_windows_covers_the_same_sections_as_linux() -> None:
    linux, windows = _sections("linux"), _sections("windows")
    assert linux == windows and len(linux) >= 14
    ps1 = (ROOT / "ssm_documents" / "collectors" / "windows.ps1").read_text()
    sh = (ROOT / "ssm_documents" / "collectors" / "linux.sh").read_text()
    for name in linux:
        assert f"s_{name}()" in sh, name
        assert re.search(rf"function Step-{name}\b", ps1, re.I), name


def test_documents_are_accepted_by_the_emulator(ssm) -> None:
    for platform, name in d.DOCUMENT_NAMES.items():
        ssm.create_document(Content=d.load_document_text(platform), Name=f"accept-{name}",
                            DocumentType="Command", DocumentFormat="YAML")
        got = ssm.get_document(Name=f"accept-{name}", DocumentFormat="JSON")
        assert d.validate_document(yaml.safe_load(got["Content"])) == []


def _ps_errors(source: bytes) -> list[tuple[int, str]]:
    from tree_sitter_language_pack import get_parser

    tree = get_parser("powershell").parse(source)
    found: list[tuple[int, str]] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            found.append((node.start_point[0] + 1, node.type))
        stack.extend(node.children)
    return sorted(found)


def test_windows_script_parses_as_powershell() -> None:
    """Syntax check with tree-sitter's PowerShell grammar (PowerShell itself is not installable
    here). What it cannot check: that cmdlets, parameters and .NET members exist, PowerShell
    5.1 vs 7 semantics, runtime types, and it mis-flags some valid forms (comma-separated
    command arguments such as `Select-Object Name,Id`, numeric suffixes such as `1MB`), so the
    script avoids those forms and uses `-Property @('Name','Id')` and plain numbers.
    """
    pytest.importorskip("tree_sitter_language_pack",
                        reason="pip install 'tree-sitter-language-pack<1' for the PS grammar")
    try:
        errors = _ps_errors((ROOT / "ssm_documents" / "collectors" / "windows.ps1").read_bytes())
    except LookupError as exc:  # pragma: no cover - grammar missing from this build
        pytest.skip(f"powershell grammar unavailable: {exc}")
    assert errors == []
    # The parser does catch real mistakes: an unclosed block and a broken pipeline.
    assert _ps_errors(b"function f {\n  if ($x) { 1\n}\n")
    assert _ps_errors(b"Get-Process | | Select-Object\n")
