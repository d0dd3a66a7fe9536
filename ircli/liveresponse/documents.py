"""Load, build, check and render the shipped live-response SSM documents.

The canonical documents live in the repository's top-level ``ssm_documents/``, installed inside
the package (:mod:`ircli.data`, setup.cfg ``package_dir``).
Rendering mimics the SSM agent so the emulator substitute runs exactly what an instance would.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ircli.liveresponse.errors import (
    DocumentInvalidError,
    DocumentNotFoundError,
    ParameterError,
)

LINUX_DOCUMENT = "ircli-linux-live-response"
WINDOWS_DOCUMENT = "ircli-windows-live-response"
DOCUMENT_NAMES = {"linux": LINUX_DOCUMENT, "windows": WINDOWS_DOCUMENT}
ENV_DOCUMENTS_DIR = "IRCLI_SSM_DOCUMENTS_DIR"
MAX_DOCUMENT_BYTES = 64 * 1024
SCRIPT_ACTIONS = {"aws:runShellScript": "Linux", "aws:runPowerShellScript": "Windows"}
CREDENTIAL_WORDS = ("secret", "password", "token", "accesskey", "credential", "privatekey")
# Exit codes the SSM agent treats specially: 194/3010 reboot the instance, 168/169 are reserved.
_FORBIDDEN_EXIT = re.compile(
    r"(?:\bexit(?:\s+/b)?\s+|Exit\(\s*|SetShouldExit\(\s*)(194|3010|168|169)\b", re.IGNORECASE
)
_PARAM_REF = re.compile(r"\{\{\s*([A-Za-z0-9_:./-]+)\s*\}\}")
_DEFAULT_TIMEOUT = 3600


def _candidate_dirs() -> list[Path]:
    """Where documents may live: explicit override, then the shipped ones (ircli.data)."""
    from ircli.data import shipped_dir

    dirs: list[Path] = []
    override = os.environ.get(ENV_DOCUMENTS_DIR)
    if override:
        dirs.append(Path(override))
    shipped = shipped_dir("ssm_documents")
    if shipped is not None:
        dirs.append(shipped)
    return dirs


def documents_dir() -> Path:
    """Return the first directory that holds the shipped documents."""
    for d in _candidate_dirs():
        if (d / f"{LINUX_DOCUMENT}.yaml").is_file():
            return d
    searched = ", ".join(str(d) for d in _candidate_dirs())
    raise DocumentNotFoundError(
        f"The live-response SSM documents were not found (searched: {searched}).",
        f"Run from the repository, reinstall ircli, or set {ENV_DOCUMENTS_DIR}.",
    )


def document_path(name: str) -> Path:
    """Path of a shipped document by name (``ircli-linux-live-response``) or platform."""
    name = DOCUMENT_NAMES.get(name, name)
    path = documents_dir() / f"{name}.yaml"
    if not path.is_file():
        raise DocumentNotFoundError(
            f"No shipped SSM document named {name!r}.",
            f"Use one of: {', '.join(DOCUMENT_NAMES.values())}.",
        )
    return path


def load_document_text(name: str) -> str:
    """The document's YAML exactly as shipped (what CreateDocument should receive)."""
    return document_path(name).read_text(encoding="utf-8")


def parse_document(content: str) -> dict[str, Any]:
    """Parse YAML or JSON document content into a dict."""
    try:
        doc = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        raise DocumentInvalidError(
            f"The document is not valid YAML/JSON: {exc}.", "Fix the document syntax."
        ) from exc
    if not isinstance(doc, dict):
        raise DocumentInvalidError("The document is not a mapping.", "Fix the document syntax.")
    return doc


def load_document(name: str) -> dict[str, Any]:
    """Load and parse a shipped document."""
    return parse_document(load_document_text(name))


def document_json(doc: Mapping[str, Any]) -> str:
    """The document as deployed in JSON form (used for the 64 KB size check)."""
    return json.dumps(doc, ensure_ascii=False)


def embedded_script(doc: Mapping[str, Any]) -> str:
    """The script of the first run step, joined like the agent joins ``runCommand`` lines."""
    steps = doc.get("mainSteps") or []
    if not steps or not isinstance(steps[0], dict):
        raise DocumentInvalidError("The document has no mainSteps.", "Add a run step.")
    lines = steps[0].get("inputs", {}).get("runCommand", [])
    if isinstance(lines, str):
        return lines
    return "\n".join(str(x) for x in lines)


def build_document(template: str, parameters_block: str, script: str) -> str:
    """Embed a parameters block and a script into a document template as YAML block text.

    Keeps the script readable in its own file while the YAML stays the deployable document.
    """
    out: list[str] = []
    for line in template.splitlines():
        stripped = line.strip()
        if stripped == "@@PARAMETERS@@":
            out.append(parameters_block.rstrip("\n"))
        elif stripped == "@@SCRIPT@@":
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + s if s else "" for s in script.rstrip("\n").split("\n"))
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def _check_parameters(doc: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    params = doc.get("parameters") or {}
    if not isinstance(params, dict):
        return ["parameters: must be a mapping"]
    for name, spec in params.items():
        if any(w in str(name).lower() for w in CREDENTIAL_WORDS):
            problems.append(f"parameter {name}: credential-like name; never pass credentials")
        if not isinstance(spec, dict):
            problems.append(f"parameter {name}: must be a mapping")
            continue
        for key in ("type", "description", "allowedPattern"):
            if not spec.get(key):
                problems.append(f"parameter {name}: missing {key}")
        pattern = spec.get("allowedPattern")
        if pattern:
            try:
                compiled = re.compile(str(pattern))
            except re.error as exc:
                problems.append(f"parameter {name}: allowedPattern does not compile: {exc}")
                continue
            if not (str(pattern).startswith("^") and str(pattern).endswith("$")):
                problems.append(f"parameter {name}: allowedPattern must be anchored with ^...$")
            default = spec.get("default")
            if default is not None and not compiled.fullmatch(str(default)):
                problems.append(f"parameter {name}: default does not match allowedPattern")
    return problems


def _check_steps(doc: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    steps = doc.get("mainSteps")
    if not isinstance(steps, list) or not steps:
        return ["mainSteps: missing or empty"]
    declared = set((doc.get("parameters") or {}).keys())
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            problems.append(f"mainSteps[{i}]: must be a mapping")
            continue
        action, name = step.get("action"), step.get("name")
        if action not in SCRIPT_ACTIONS:
            problems.append(f"mainSteps[{i}]: action {action!r} is not a supported script action")
        if not name or not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", str(name)):
            problems.append(f"mainSteps[{i}]: missing or invalid name")
        pre = (step.get("precondition") or {}).get("StringEquals")
        want = SCRIPT_ACTIONS.get(str(action))
        if not (isinstance(pre, list) and len(pre) == 2 and pre[0] == "platformType"):
            problems.append(f"mainSteps[{i}]: precondition StringEquals platformType missing")
        elif want and pre[1] != want:
            problems.append(f"mainSteps[{i}]: precondition platform {pre[1]!r} != {want!r}")
        inputs = step.get("inputs") or {}
        script = inputs.get("runCommand")
        if not script:
            problems.append(f"mainSteps[{i}]: inputs.runCommand missing")
            continue
        text = script if isinstance(script, str) else "\n".join(map(str, script))
        bad = _FORBIDDEN_EXIT.search(text)
        if bad:
            problems.append(
                f"mainSteps[{i}]: script exits {bad.group(1)}, which the SSM agent treats as "
                "reboot/reserved"
            )
        refs = set(_PARAM_REF.findall(text + json.dumps(inputs)))
        for ref in sorted(refs - declared):
            problems.append(f"mainSteps[{i}]: references undeclared parameter {ref}")
    return problems


def validate_document(doc: Mapping[str, Any]) -> list[str]:
    """Offline checks of a Command document; returns one named reason per problem (empty = ok)."""
    problems: list[str] = []
    if str(doc.get("schemaVersion")) != "2.2":
        problems.append("schemaVersion: must be '2.2'")
    if not doc.get("description"):
        problems.append("description: missing")
    problems += _check_parameters(doc)
    problems += _check_steps(doc)
    size = len(document_json(doc).encode("utf-8"))
    if size > MAX_DOCUMENT_BYTES:
        problems.append(f"size: {size} bytes as JSON exceeds the 64 KB SSM document limit")
    return problems


def _values(raw: str | Sequence[str]) -> list[str]:
    return [raw] if isinstance(raw, str) else [str(v) for v in raw]


def resolve_parameters(
    doc: Mapping[str, Any], parameters: Mapping[str, str | Sequence[str]]
) -> dict[str, list[str]]:
    """Apply defaults and check every value like SSM does before running (allowedPattern etc.)."""
    specs: Mapping[str, Any] = doc.get("parameters") or {}
    unknown = sorted(set(parameters) - set(specs))
    if unknown:
        raise ParameterError(
            f"Unknown document parameter(s): {', '.join(unknown)}.",
            f"Use only: {', '.join(sorted(specs))}.",
        )
    resolved: dict[str, list[str]] = {}
    for name, spec in specs.items():
        if name in parameters:
            values = _values(parameters[name])
        elif "default" in spec:
            values = _values(spec["default"]) if spec["default"] is not None else []
        else:
            raise ParameterError(
                f"Required parameter {name} has no value.", f"Pass {name} to send_command."
            )
        if spec.get("type", "String") == "String" and len(values) != 1:
            raise ParameterError(
                f"Parameter {name} must have exactly one value.", "Pass a single string."
            )
        pattern = spec.get("allowedPattern")
        allowed = spec.get("allowedValues")
        for v in values:
            if pattern and not re.fullmatch(str(pattern), v):
                raise ParameterError(
                    f"Parameter {name} value does not match its allowedPattern {pattern}.",
                    f"Pass a value for {name} that matches the pattern.",
                )
            if allowed and v not in [str(a) for a in allowed]:
                raise ParameterError(
                    f"Parameter {name} value is not one of {allowed}.", "Pick an allowed value."
                )
        resolved[name] = values
    return resolved


def _substitute(text: str, resolved: Mapping[str, list[str]]) -> str:
    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in resolved:
            raise ParameterError(
                f"The document references {{{{ {name} }}}}, which is not a declared parameter.",
                "Declare the parameter or remove the reference.",
            )
        return ",".join(resolved[name])

    return _PARAM_REF.sub(repl, text)


@dataclass(frozen=True)
class RenderedStep:
    """One run step as the agent would execute it."""

    name: str
    action: str
    platform: str
    commands: str
    timeout_seconds: int
    env: dict[str, str] = field(default_factory=dict)


def render_step(
    doc: Mapping[str, Any], parameters: Mapping[str, str | Sequence[str]]
) -> RenderedStep:
    """Render the first run step: validated parameters substituted, env vars for ENV_VAR ones."""
    resolved = resolve_parameters(doc, parameters)
    steps = doc.get("mainSteps") or []
    if not steps:
        raise DocumentInvalidError("The document has no mainSteps.", "Add a run step.")
    step = steps[0]
    action = str(step.get("action"))
    inputs = step.get("inputs") or {}
    lines = inputs.get("runCommand") or []
    lines = [lines] if isinstance(lines, str) else [str(x) for x in lines]
    commands = "\n".join(_substitute(line, resolved) for line in lines)
    raw_timeout = _substitute(str(inputs.get("timeoutSeconds", _DEFAULT_TIMEOUT)), resolved)
    # SSM silently resets an out-of-range executionTimeout (5..172800) to 3600.
    timeout = int(raw_timeout) if raw_timeout.isdigit() else _DEFAULT_TIMEOUT
    if not 5 <= timeout <= 172800:
        timeout = _DEFAULT_TIMEOUT
    specs: Mapping[str, Any] = doc.get("parameters") or {}
    env = {
        f"SSM_{name}": ",".join(resolved[name])
        for name, spec in specs.items()
        if spec.get("interpolationType") == "ENV_VAR"
    }
    return RenderedStep(
        name=str(step.get("name")),
        action=action,
        platform=SCRIPT_ACTIONS.get(action, "Unknown"),
        commands=commands,
        timeout_seconds=timeout,
        env=env,
    )


def render_commands(
    doc: Mapping[str, Any], parameters: Mapping[str, str | Sequence[str]]
) -> str:
    """The first step's script with ``{{ Name }}`` substituted exactly as the SSM agent does."""
    return render_step(doc, parameters).commands
