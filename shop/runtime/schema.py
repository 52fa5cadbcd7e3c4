"""The one way a setting is declared and read: a field of a frozen msgspec Struct, annotated with
`env(NAME, doc, bounds)`. The field's type and default are the variable's; `parse` reads the
environment once, converts and checks every declared variable (msgspec's lax conversion, so the
bounds are msgspec's own), and `variables` lists them for docs/configuration.md and the manifests'
consistency test. A setting is therefore written down exactly once.

    class TokenSettings(Schema):
        issuer: Annotated[str, env("JWT_ISSUER", "The issuer tokens carry.")] = "shop"

A field without `env` is either a nested Schema (a group of variables) or a value the caller
passes (`service`), or one an earlier group supplies (`data_dir`, from the runtime's).
A variable named with `{SERVICE}` is read once per function (`USERS_URL`, ...) into a dict.
"""

from __future__ import annotations

import functools
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from shop.runtime.catalog import FUNCTIONS

S = TypeVar("S", bound="Schema")
CONTEXT = ("service", "data_dir")  # what a parsed group hands to the groups after it
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use."""


class Schema(msgspec.Struct, frozen=True, kw_only=True):
    """A frozen group of settings, each field one declared environment variable."""


def env(
    name: str,
    doc: str,
    *,
    ge: float | None = None,
    le: float | None = None,
    secret: bool = False,
    default: str | None = None,
) -> msgspec.Meta:
    """Declare the variable behind a field. `default` describes a computed default for the doc."""
    extra = {"env": name, "secret": secret, "default": default, "ge": ge, "le": le}
    # The bounds apply to a value read (not to None, nor to a `{SERVICE}` field's dict).
    return msgspec.Meta(description=doc, extra=extra)


@dataclass(frozen=True, slots=True)
class Variable:
    """One declared variable, as the docs and the manifests' test see it."""

    name: str
    kind: str
    default: str
    doc: str
    group: str
    secret: bool


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    type: Any
    value_type: Any  # what one raw value converts to (per function for `{SERVICE}` fields)
    meta: msgspec.Meta | None
    nested: type[Schema] | None
    default: Any


def parse(cls: type[S], environ: Mapping[str, str] | None = None, **context: Any) -> S:
    """Read `cls`'s variables from `environ` (default: the process's) into a frozen instance.
    An unset or blank variable means its default; a bad value raises SettingsError naming it."""
    source = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for field in _fields(cls):
        if field.nested is not None:
            group = parse(field.nested, source, **context)
            values[field.name] = group
            for name in CONTEXT:
                if name not in context and hasattr(group, name):
                    context[name] = getattr(group, name)
        elif field.meta is None:
            if field.name in context:
                values[field.name] = context[field.name]
        elif "{SERVICE}" in _env(field):
            found = {}
            for service in FUNCTIONS:
                name = _env(field).replace("{SERVICE}", service.upper())
                raw = source.get(name, "").strip()
                if raw:
                    found[service] = _convert(raw, field.value_type, name)
            values[field.name] = found
        else:
            raw = source.get(_env(field), "").strip()
            if raw:
                values[field.name] = _convert(raw, field.value_type, _env(field))
    return cls(**values)


def variables(cls: type[Schema], group: str = "") -> list[Variable]:
    """Every variable `cls` reads, nested groups included, in declaration order."""
    found: list[Variable] = []
    for field in _fields(cls):
        if field.nested is not None:
            found += variables(field.nested, field.nested.__name__)
        elif field.meta is not None:
            extra = field.meta.extra or {}
            names = [_env(field)]
            if "{SERVICE}" in names[0]:
                names = [names[0].replace("{SERVICE}", s.upper()) for s in FUNCTIONS]
            default = extra["default"] or _show(field.default)
            kind = _describe(field.value_type, extra.get("ge"), extra.get("le"))
            kind = kind.removeprefix("an ").removeprefix("a ")
            for name in names:
                found.append(
                    Variable(
                        name, kind, default, field.meta.description or "", group, extra["secret"]
                    )
                )
    return found


@functools.cache
def _fields(cls: type[Schema]) -> tuple[_Field, ...]:
    fields = []
    for info in msgspec.structs.fields(cls):  # its types are the resolved hints, Annotated kept
        hint = info.type
        meta = next((m for m in typing.get_args(hint)[1:] if isinstance(m, msgspec.Meta)), None)
        base = typing.get_args(hint)[0] if meta is not None else hint
        nested = base if isinstance(base, type) and issubclass(base, Schema) else None
        value_type: Any = hint
        if meta is not None:
            extra = meta.extra or {}
            value_type = _strip(base)
            if "{SERVICE}" in extra["env"]:
                value_type = typing.get_args(value_type)[1]
            if extra["ge"] is not None or extra["le"] is not None:
                bounds = msgspec.Meta(ge=extra["ge"], le=extra["le"])
                value_type = typing.Annotated[value_type, bounds]
        default = info.default if info.default is not msgspec.NODEFAULT else None
        fields.append(_Field(info.name, hint, value_type, meta, nested, default))
    return tuple(fields)


def _env(field: _Field) -> str:
    assert field.meta is not None
    name: str = (field.meta.extra or {})["env"]
    return name


def _convert(raw: str, type_: Any, name: str) -> Any:
    base = _strip(type_)
    if typing.get_origin(base) is tuple:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if base is bool:
        lowered = raw.lower()
        if lowered not in _TRUE | _FALSE:
            raise SettingsError(f"{name} must be a boolean (true/false), got {raw!r}")
        return lowered in _TRUE
    try:
        return msgspec.convert(raw, type_, strict=False)
    except msgspec.ValidationError:
        meta = _meta(type_)
        kind = _describe(type_, meta.ge if meta else None, meta.le if meta else None)
        raise SettingsError(f"{name} must be {kind}, got {raw!r}") from None


def _strip(type_: Any) -> Any:
    """The type without Annotated and without `| None`."""
    if typing.get_origin(type_) is typing.Annotated:
        type_ = typing.get_args(type_)[0]
    args = [a for a in typing.get_args(type_) if a is not type(None)]
    if type(None) in typing.get_args(type_) and len(args) == 1:
        return args[0]
    return type_


def _meta(type_: Any) -> msgspec.Meta | None:
    args = typing.get_args(type_) if typing.get_origin(type_) is typing.Annotated else ()
    return next((m for m in args if isinstance(m, msgspec.Meta)), None)


def _describe(type_: Any, ge: float | None, le: float | None) -> str:
    base = _strip(type_)
    if typing.get_origin(base) is typing.Literal:
        return "one of " + ", ".join(str(a) for a in typing.get_args(base))
    if typing.get_origin(base) is tuple:
        return "a comma-separated list"
    names = {int: "an integer", float: "a number", bool: "a boolean", str: "a string"}
    kind = names.get(base, str(base))
    bounds = [f">= {ge:g}" if ge is not None else "", f"<= {le:g}" if le is not None else ""]
    return " ".join([kind, *(b for b in bounds if b)])


def _show(default: Any) -> str:
    if default is None or default == "" or default == () or default == {}:
        return "(unset)"
    if isinstance(default, bool):
        return "true" if default else "false"
    return str(default)
