"""A step's argument schema, derived from its ``__init__`` signature and type hints.

The declaration is the single source: adding a keyword argument to a step makes it a runbook
argument, with its type and default, and nobody keeps a second list in sync.
"""

from __future__ import annotations

import inspect
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, Union

from ircli.core.step import Step

_SCALARS: dict[type, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}


@dataclass(frozen=True)
class ArgSpec:
    """One argument: its JSON-ish type, whether it may be null, its choices and default."""

    name: str
    type: str  # boolean | integer | number | string | list[string] | ...
    required: bool
    default: Any = None
    nullable: bool = False
    choices: tuple[Any, ...] = ()
    description: str = ""

    def describe(self) -> str:
        kind = " | ".join(repr(c) for c in self.choices) if self.choices else self.type
        if self.nullable:
            kind += " | null"
        return kind

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type, "required": self.required,
                                "nullable": self.nullable}
        if not self.required:
            data["default"] = self.default
        if self.choices:
            data["enum"] = list(self.choices)
        if self.description:
            data["description"] = self.description
        return data


@dataclass(frozen=True)
class StepSchema:
    name: str
    title: str
    description: str
    args: dict[str, ArgSpec] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "description": self.description,
                "args": {name: spec.to_dict() for name, spec in self.args.items()}}


def step_schema(cls: type[Step]) -> StepSchema:
    """The schema of a registered step class (arguments of ``__init__`` after ``self``)."""
    description = inspect.cleandoc(cls.__doc__ or "").strip()
    init = cls.__dict__.get("__init__") or next(
        (c.__dict__["__init__"] for c in cls.__mro__ if "__init__" in c.__dict__), None)
    if init is None or init is object.__init__:
        return StepSchema(cls.name, cls.title, description)
    hints = typing.get_type_hints(init)
    docs = _arg_docs(init)
    args: dict[str, ArgSpec] = {}
    for param in list(inspect.signature(init).parameters.values())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        type_name, nullable, choices = _describe_type(hints.get(param.name, Any))
        required = param.default is inspect.Parameter.empty
        args[param.name] = ArgSpec(
            param.name, type_name, required, None if required else param.default,
            nullable, choices, docs.get(param.name, ""))
    return StepSchema(cls.name, cls.title, description, args)


def _arg_docs(init: Any) -> dict[str, str]:
    """``name: what it does`` lines of the ``__init__`` docstring, when a step writes them."""
    found: dict[str, str] = {}
    for line in inspect.cleandoc(init.__doc__ or "").splitlines():
        name, sep, text = line.strip().partition(":")
        if sep and name.isidentifier() and text.strip():
            found[name] = text.strip()
    return found


def _describe_type(hint: Any) -> tuple[str, bool, tuple[Any, ...]]:
    """(type name, nullable, choices) for the hints steps use; anything else is 'any'."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        nullable = len(members) < len(typing.get_args(hint))
        if len(members) == 1:
            name, _, choices = _describe_type(members[0])
            return name, nullable, choices
        return "any", nullable, ()
    if origin is Literal:
        choices = typing.get_args(hint)
        return _SCALARS.get(type(choices[0]), "any"), False, tuple(choices)
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        return f"list[{_describe_type(item)[0]}]", False, ()
    if isinstance(hint, type) and hint in _SCALARS:
        return _SCALARS[hint], False, ()
    return "any", False, ()


def check_value(spec: ArgSpec, value: Any) -> str | None:
    """Why ``value`` does not fit ``spec`` (one phrase), or None when it does."""
    if value is None:
        return None if spec.nullable else f"{spec.name} may not be null"
    if spec.choices:
        return None if value in spec.choices else \
            f"{spec.name} must be one of {', '.join(repr(c) for c in spec.choices)}"
    if not _fits(spec.type, value):
        return f"{spec.name} must be {_article(spec.type)}, not {_yaml_type(value)}"
    return None


def _fits(type_name: str, value: Any) -> bool:
    if type_name == "any":
        return True
    if type_name.startswith("list["):
        return isinstance(value, list) and all(_fits(type_name[5:-1], v) for v in value)
    if type_name == "boolean":
        return isinstance(value, bool)
    if type_name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_name == "string":
        return isinstance(value, str)
    return False


def _article(type_name: str) -> str:
    if type_name.startswith("list["):
        return f"a list of {type_name[5:-1]}s"
    return f"an {type_name}" if type_name[0] in "aeiou" else f"a {type_name}"


def _yaml_type(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
