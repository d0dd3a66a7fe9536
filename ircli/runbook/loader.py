"""Read a runbook file into a :class:`Runbook`, collecting every problem with its line.

The YAML is composed into nodes first (``yaml.compose``), so each key and value keeps its
mark and an error can say "file:line" — a reviewer fixes a runbook like code, not by guessing.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

import ircli.catalog.steps  # noqa: F401 - the registry must be complete before validation
from ircli.core.step import STEPS
from ircli.runbook.kinds import KINDS, PREAMBLE_STEPS, kinds_for
from ircli.runbook.model import (
    TARGET_PLACEHOLDER,
    FindingPattern,
    Runbook,
    RunbookError,
    StepSpec,
)
from ircli.runbook.schema import ArgSpec, check_value, step_schema

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
TOP_KEYS = ("name", "description", "target", "finding_types", "steps")
REQUIRED_KEYS = ("name", "description", "target", "steps")
RESOURCE_ROLES = ("TARGET", "ACTOR")


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _Reader:
    """Walks the node tree of one file and records problems instead of stopping at the first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.errors: list[RunbookError] = []
        self._constructor = SafeConstructor()

    def error(self, node: Node | int, message: str, fix: str = "") -> None:
        line = node if isinstance(node, int) else _line(node)
        self.errors.append(RunbookError(self.path, line, message, fix))

    def value(self, node: Node) -> Any:
        return self._constructor.construct_object(node, deep=True)

    def mapping(self, node: Node, what: str, allowed: tuple[str, ...], *, noun: str = "key",
                allowed_text: str = "") -> dict[str, tuple[Node, Node]] | None:
        """Key -> (key node, value node); unknown and repeated keys are errors."""
        if not isinstance(node, MappingNode):
            self.error(node, f"{what} must be a mapping ({', '.join(allowed)}).")
            return None
        found: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = self.value(key_node)
            if not isinstance(key, str):
                self.error(key_node, f"{what} has a key that is not a string: {key!r}.")
            elif key in found:
                self.error(key_node, f"{what} repeats the key {key!r} (first on line "
                           f"{_line(found[key][0])}).", "Keep one of them.")
            elif key not in allowed:
                self.error(key_node, f"unknown {noun} {key!r} in {what}.",
                           f"Use only: {allowed_text or ', '.join(allowed)}"
                           f"{_did_you_mean(key, allowed)}.")
            else:
                found[key] = (key_node, value_node)
        return found

    def string(self, node: Node, what: str) -> str | None:
        value = self.value(node) if isinstance(node, ScalarNode) else None
        if not isinstance(value, str) or not value.strip():
            self.error(node, f"{what} must be a non-empty string.")
            return None
        return value


def load_runbook(path: Path, source: str = "file") -> Runbook:
    """The runbook in ``path``; problems land in ``runbook.errors`` (never raised here)."""
    runbook = Runbook(name=path.stem, path=path, source=source)
    reader = _Reader(path)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except OSError as err:
        reader.error(1, f"cannot read the file: {err.strerror or err}.")
        runbook.errors = reader.errors
        return runbook
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else 1
        reader.error(line, f"not valid YAML: {err.problem or err.context}.",
                     "Fix the YAML syntax (indentation, quotes; quote patterns that start "
                     "with '*').")
        runbook.errors = reader.errors
        return runbook
    except yaml.YAMLError as err:
        reader.error(1, f"not valid YAML: {err}.")
        runbook.errors = reader.errors
        return runbook
    if root is None:
        reader.error(1, "the file is empty.", f"Write a runbook with {', '.join(REQUIRED_KEYS)}.")
        runbook.errors = reader.errors
        return runbook
    try:
        _read_top(reader, root, runbook)
    except yaml.MarkedYAMLError as err:  # e.g. a !!python tag the safe constructor refuses
        mark = err.problem_mark or err.context_mark
        reader.error(mark.line + 1 if mark else 1, f"not a plain YAML value: {err.problem}.",
                     "Use plain strings, numbers, booleans, lists and mappings.")
    runbook.errors = reader.errors
    return runbook


def _read_top(reader: _Reader, root: Node, runbook: Runbook) -> None:
    top = reader.mapping(root, "the runbook", TOP_KEYS)
    if top is None:
        return
    for key in REQUIRED_KEYS:
        if key not in top:
            reader.error(root, f"the runbook has no {key!r}.", _REQUIRED_FIX[key])
    if "name" in top:
        name = reader.string(top["name"][1], "name")
        if name is not None and not NAME.match(name):
            reader.error(top["name"][1], f"name {name!r} is not a valid runbook name.",
                         "Use lower-case letters, digits and '-' (at most 63).")
        elif name is not None:
            runbook.name = name
            if runbook.path.stem != name:
                reader.error(top["name"][1], f"name {name!r} does not match the file name "
                             f"{runbook.path.name!r}.",
                             f"Rename the file to {name}.yaml, or the runbook to "
                             f"{runbook.path.stem!r}.")
    if "description" in top:
        runbook.description = reader.string(top["description"][1], "description") or ""
    if "target" in top:
        target = reader.value(top["target"][1])
        if target not in KINDS:
            reader.error(top["target"][1], f"target {target!r} is not a kind ircli can act on.",
                         f"Use one of: {', '.join(KINDS)}.")
        else:
            runbook.target = str(target)
    if "finding_types" in top:
        runbook.finding_types = _read_patterns(reader, top["finding_types"][1])
    if "steps" in top:
        runbook.steps = _read_steps(reader, top["steps"][1], runbook.target)


_REQUIRED_FIX = {
    "name": "Add `name: <file name without .yaml>`.",
    "description": "Add `description:` with one sentence on what the runbook answers.",
    "target": f"Add `target:` with one of {', '.join(KINDS)}.",
    "steps": "Add `steps:` with the registered steps to run, in order.",
}


def _read_patterns(reader: _Reader, node: Node) -> list[FindingPattern]:
    if not isinstance(node, SequenceNode):
        reader.error(node, "finding_types must be a list of GuardDuty finding types.",
                     "Write one `- \"Type:Resource/Name\"` per line (fnmatch patterns).")
        return []
    patterns = []
    for item in node.value:
        if isinstance(item, ScalarNode):
            pattern = reader.string(item, "a finding type")
            role = None
        else:
            fields = reader.mapping(item, "a finding type", ("type", "resource_role"))
            if fields is None:
                continue
            if "type" not in fields:
                reader.error(item, "a finding type mapping has no 'type'.",
                             "Add `type: \"Type:Resource/Name\"`.")
                continue
            pattern = reader.string(fields["type"][1], "type")
            role = reader.value(fields["resource_role"][1]) if "resource_role" in fields \
                else None
            if role is not None and role not in RESOURCE_ROLES:
                reader.error(fields["resource_role"][1],
                             f"resource_role {role!r} is not a GuardDuty resource role.",
                             "Use TARGET (the resource was attacked) or ACTOR (it attacked).")
                role = None
        if pattern is not None and (" " in pattern or ":" not in pattern):
            reader.error(item, f"{pattern!r} does not look like a GuardDuty finding type.",
                         "Finding types read ThreatPurpose:ResourceType/ThreatName, e.g. "
                         "\"UnauthorizedAccess:EC2/SSHBruteForce\" (wildcards allowed).")
        elif pattern is not None:
            patterns.append(FindingPattern(pattern, role, _line(item)))
    return patterns


def _read_steps(reader: _Reader, node: Node, target: str) -> list[StepSpec]:
    if not isinstance(node, SequenceNode) or not node.value:
        reader.error(node, "steps must be a non-empty list.",
                     "Write one `- step: NAME` (with `args:` when needed) per step.")
        return []
    specs: list[StepSpec] = []
    seen: dict[str, int] = {}
    for item in node.value:
        spec = _read_step(reader, item, target)
        if spec is None:
            continue
        if spec.name in seen:
            reader.error(item, f"step {spec.name!r} appears twice (first on line "
                         f"{seen[spec.name]}).",
                         "Keep one: the case records one entry per step.")
            continue
        seen[spec.name] = spec.line
        specs.append(spec)
    return specs


def _read_step(reader: _Reader, item: Node, target: str) -> StepSpec | None:
    errors_before = len(reader.errors)
    args_node: Node | None = None
    if isinstance(item, ScalarNode):
        name = reader.string(item, "a step")
        name_node: Node = item
    else:
        fields = reader.mapping(item, "a step", ("step", "args"))
        if fields is None:
            return None
        if "step" not in fields:
            reader.error(item, "a step has no 'step' key.", "Add `step: NAME`.")
            return None
        name_node = fields["step"][1]
        name = reader.string(name_node, "step")
        args_node = fields["args"][1] if "args" in fields else None
    if name is None or not _step_fits(reader, name_node, name, target):
        return None
    schema = step_schema(STEPS[name])
    args: dict[str, Any] = {}
    if args_node is not None and not schema.args:
        reader.error(args_node, f"step {name!r} takes no arguments.", "Remove `args:`.")
    elif args_node is not None:
        fields = reader.mapping(args_node, f"the arguments of {name}", tuple(schema.args),
                                noun="argument", allowed_text=describe_args(schema.args))
        for arg, (_key, value_node) in (fields or {}).items():
            value = reader.value(value_node)
            problem = check_value(schema.args[arg], value)
            if problem:
                reader.error(value_node, f"{name}: {problem}.",
                             f"Set {arg} to {schema.args[arg].describe()}.")
            else:
                args[arg] = value
    for arg, spec in schema.args.items():
        if spec.required and arg not in args and not (
                args_node is not None and _present(args_node, arg)):
            reader.error(item, f"step {name!r} needs the argument {arg!r} ({spec.describe()}).",
                         f"Add `args: {{{arg}: ...}}` to the step.")
    if len(reader.errors) == errors_before:
        _try_build(reader, item, name, args, target)
    return StepSpec(name, args, _line(item))


def _present(args_node: Node, arg: str) -> bool:
    """True when ``arg`` is written but its value was refused (one cause, one message)."""
    return isinstance(args_node, MappingNode) and any(
        isinstance(k, ScalarNode) and k.value == arg for k, _v in args_node.value)


def _step_fits(reader: _Reader, node: Node, name: str, target: str) -> bool:
    if name in PREAMBLE_STEPS:
        kinds = [k for k in KINDS.values() if name in k.preamble]
        reader.error(node, f"{name!r} always runs first for {kinds[0].label} runbooks; it is "
                     "not listed.", "Remove this step.")
        return False
    if name not in STEPS:
        usable = sorted(KINDS[target].steps & set(STEPS)) if target in KINDS else sorted(STEPS)
        reader.error(node, f"unknown step {name!r}.",
                     f"Use a registered step{f' for {target} runbooks' if target else ''}: "
                     f"{', '.join(usable)}{_did_you_mean(name, list(STEPS))}.")
        return False
    if target and name not in KINDS[target].steps:
        fits = kinds_for(name)
        where = f"it acts on {', '.join(KINDS[k].label for k in fits)} targets" if fits else \
            "it is not usable in runbooks"
        reader.error(node, f"step {name!r} does not fit a {target} runbook: {where}.",
                     f"Use steps for {target}: {', '.join(sorted(KINDS[target].steps))}.")
        return False
    return True


def _try_build(reader: _Reader, node: Node, name: str, args: dict[str, Any],
               target: str) -> None:
    """Construct the step once, so checks in its ``__init__`` fail at load, with the line."""
    example = KINDS[target].example if target in KINDS else "target"
    try:
        STEPS[name](**substitute(args, example))
    except (ValueError, TypeError) as err:
        reader.error(node, f"step {name!r} refuses its arguments: {err}.")
    except Exception as err:  # an IrcliError from a step's own checks
        message = getattr(err, "message", str(err))
        reader.error(node, f"step {name!r} refuses its arguments: {message}",
                     getattr(err, "remediation", "") or "")


def substitute(args: dict[str, Any], target: str) -> dict[str, Any]:
    """Replace ``${target}`` (a whole string, alone or in a list) with the run's target id."""
    def one(value: Any) -> Any:
        if value == TARGET_PLACEHOLDER:
            return target
        if isinstance(value, list):
            return [one(v) for v in value]
        return value

    return {k: one(v) for k, v in args.items()}


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def describe_args(args: dict[str, ArgSpec]) -> str:
    return ", ".join(f"{name} ({spec.describe()})" for name, spec in args.items()) or "none"
