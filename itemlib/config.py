"""Configuration dataclasses declared once: defaults, help, allowed values and the command line.

A config (:class:`itemlib.training.TrainConfig`, :class:`itemlib.generate.GenerateConfig`) is a
dataclass whose fields are made with :func:`option`. Each field's metadata holds its help text and
its constraint (allowed values, a lower bound), in the spirit of scikit-learn's
``_parameter_constraints``: :class:`Config` checks them once, at construction (and again on
:func:`dataclasses.replace`), and :func:`add_arguments` derives the command-line options from the
same fields, so a new field reaches ``--help``, the study's profiles and its notebooks without any
other edit. Notebooks receive ``config.to_dict()`` as one parameter and rebuild it with
``Config.from_dict``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

C = TypeVar("C", bound="Config")


def cache_root() -> Path:
    """Where itemlib keeps what it derives and can rebuild (catalog embeddings, assembled models):
    ``$ITEMLIB_CACHE``, else ``~/.cache/itemlib``."""
    return Path(os.environ.get("ITEMLIB_CACHE", Path.home() / ".cache" / "itemlib"))


def option(
    default: Any,
    *,
    help: str,  # noqa: A002 - argparse's own name for it
    choices: Sequence[Any] | None = None,
    canonical: Callable[[Any], Any] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    flag: str | None = None,
    metavar: str | None = None,
) -> Any:
    """A config field with its help text and constraint.

    Args:
        default: the default value (immutable: None, a number, a string).
        help: one line for ``--help`` and the documentation.
        choices: the allowed values (``None`` is always allowed for an optional field).
        canonical: turns a value as a user may spell it into the one ``choices`` lists (task names in
            any case); applied to each element of a list and each key of a dict, before the checks.
        minimum: the smallest allowed number; ``-1`` stays allowed where the default is ``-1``
            (the "not set" value of ``max_steps``).
        maximum: the largest allowed number.
        above: a bound the number must exceed (``temperature`` > 0).
        flag: the command-line spelling when it is not ``--field-name`` (e.g. ``--lr``); for a
            boolean that defaults to ``True`` the flag turns it off (``progress`` / ``--quiet``).
        metavar: the placeholder shown in ``--help``.
        cli: ``False`` keeps the field off the command line.
        factory: a default factory for mutable defaults.
    """
    metadata = {
        "help": help,
        # a list is copied; another sequence is kept as given, so a live registry stays live
        "choices": tuple(choices) if isinstance(choices, list) else choices,
        "minimum": minimum,
        "maximum": maximum,
        "above": above,
        "flag": flag,
        "metavar": metavar,
        "canonical": canonical,
    }
    return dataclasses.field(default=default, metadata=metadata)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _strip_optional(hint: Any) -> tuple[Any, bool]:
    """(the type inside ``X | None``, whether None is allowed)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return hint, False


def _canonical(value: Any, canonical: Callable[[Any], Any] | None) -> Any:
    if canonical is None or value is None:
        return value
    if isinstance(value, list):
        return [canonical(member) for member in value]
    if isinstance(value, dict):
        return {canonical(key): member for key, member in value.items()}
    return canonical(value)


class Config:
    """Base of itemlib's config dataclasses: constraint checks at construction, dict round trip.

    A list field's choices constrain each element, a dict field's its keys, after ``canonical`` has
    spelled them. Rules that span fields go in :meth:`check`, which runs after the field constraints.
    """

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for spec in dataclasses.fields(self):  # type: ignore[arg-type]
            value = _canonical(getattr(self, spec.name), spec.metadata.get("canonical"))
            object.__setattr__(self, spec.name, value)
            kind, optional = _strip_optional(hints[spec.name])
            if value is None:
                if not optional:
                    raise ValueError(f"{type(self).__name__}.{spec.name} must not be None")
                continue
            choices, minimum = spec.metadata.get("choices"), spec.metadata.get("minimum")
            if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{spec.name} must be a whole number, got {value!r}")
            if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ValueError(f"{spec.name} must be a number, got {value!r}")
            members = list(value) if isinstance(value, (list, tuple, dict)) else [value]
            bad = [member for member in members if choices is not None and member not in choices]
            if bad:
                allowed = ", ".join(map(repr, choices))
                raise ValueError(f"{spec.name} must be one of {allowed}, got {bad[0]!r}")
            if minimum is not None and not (value >= minimum or value == spec.default == -1):
                unset = " (or -1: not set)" if spec.default == -1 else ""
                raise ValueError(f"{spec.name} must be >= {minimum}{unset}, got {value!r}")
            maximum, above = spec.metadata.get("maximum"), spec.metadata.get("above")
            if maximum is not None and value > maximum:
                raise ValueError(f"{spec.name} must be <= {maximum}, got {value!r}")
            if above is not None and not value > above:
                raise ValueError(f"{spec.name} must be > {above}, got {value!r}")
        self.check()

    def check(self) -> None:
        """Rules that span fields (none by default)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain values (JSON- and papermill-friendly) that :meth:`from_dict` turns back into this config."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[C], values: dict[str, Any]) -> C:
        """The config of ``values`` (from :meth:`to_dict`); an unknown key is an error naming it."""
        names = {spec.name for spec in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(
                f"{cls.__name__} has no field(s) {', '.join(unknown)}; fields are {', '.join(sorted(names))}"
            )
        return cls(**values)


def _spelled(kind: Callable[[str], Any], canonical: Callable[[Any], Any]) -> Callable[[str], Any]:
    """An argparse type that spells a value as ``canonical`` does (``nm2i`` -> ``NM2I``) before the
    choices are checked; a value it cannot spell is left for the choices to reject by name."""

    def parse(text: str) -> Any:
        value = kind(text)
        try:
            return canonical(value)
        except ValueError:
            return value

    return parse


def _key_value(keys: Sequence[str] | None, kind: type) -> Any:
    """The parser of ``KEY=VALUE`` items: with ``keys``, KEY is one of them in any case
    (``--oversample nm2i=2``); an ``int`` VALUE is a count, a whole number >= 1."""

    def parse(text: str) -> tuple[str, object]:
        key, equals, value = text.partition("=")
        valid = bool(key and equals and value) and (kind is not int or (value.isdigit() and int(value) >= 1))
        if not valid or (keys is not None and key.upper() not in keys):
            allowed = f" with KEY one of {', '.join(keys)}" if keys is not None else ""
            shape = "KEY=N" if kind is int else "KEY=VALUE"
            count = " and N a whole number >= 1" if kind is int else ""
            raise argparse.ArgumentTypeError(f"expected {shape}{allowed}{count}, got {text!r}")
        return (key.upper() if keys is not None else key), kind(value)

    return parse


def flag_of(spec: dataclasses.Field) -> str:
    return spec.metadata.get("flag") or "--" + spec.name.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser, cls: type[Config], *, overrides: bool = False) -> None:
    """Add one option per command-line field of ``cls`` (names, defaults, help and choices from
    the fields themselves); :func:`from_arguments` reads them back. With ``overrides`` the options
    have no default: only those given reach the namespace, as changes to another config
    (:func:`overrides_from_arguments`)."""
    hints = _hints(cls)
    defaults = cls()  # type: ignore[call-arg]
    summary = (cls.__doc__ or "").strip().splitlines()[0].rstrip(".")
    group = parser.add_argument_group(f"{summary} ({cls.__module__}.{cls.__name__})")
    for spec in dataclasses.fields(cls):  # type: ignore[arg-type]
        kind, _ = _strip_optional(hints[spec.name])
        default = getattr(defaults, spec.name)
        meta = spec.metadata
        shown = "" if kind is bool or default is None or overrides else f" (default: {default})"
        kwargs: dict[str, Any] = {"dest": spec.name, "help": meta["help"] + shown}
        if overrides:
            kwargs["default"] = argparse.SUPPRESS
        if meta.get("metavar"):
            kwargs["metavar"] = meta["metavar"]
        origin = typing.get_origin(kind)
        if kind is bool:
            kwargs["action"] = "store_false" if default else "store_true"
        elif origin is list:
            item = typing.get_args(kind)[0]
            kwargs.update(nargs="+", type=item)
        elif origin is dict:
            value_kind = typing.get_args(kind)[1]
            kwargs.update(nargs="+", type=_key_value(meta.get("choices"), value_kind))
            kwargs.setdefault("metavar", "KEY=N" if value_kind is int else "KEY=VALUE")
        else:
            kwargs["type"] = kind
        if meta.get("choices") is not None and kind is not bool and origin is not dict:
            kwargs["choices"] = [c for c in meta["choices"] if c is not None]
        if meta.get("canonical") and "type" in kwargs and origin is not dict:
            kwargs["type"] = _spelled(kwargs["type"], meta["canonical"])
        group.add_argument(flag_of(spec), **kwargs)
    if not overrides:
        parser.set_defaults(**{spec.name: getattr(defaults, spec.name) for spec in dataclasses.fields(cls)})  # type: ignore[arg-type]


def command_line(config: Config) -> list[str]:
    """The options that make :func:`add_arguments`' parser rebuild ``config``: one per field that differs
    from its default, spelled as a user types it (what the book prints for a profile's recipe)."""
    defaults = type(config)()  # type: ignore[call-arg]
    words: list[str] = []
    for spec in dataclasses.fields(config):  # type: ignore[arg-type]
        value = getattr(config, spec.name)
        if value == getattr(defaults, spec.name):
            continue
        if value is None:
            raise ValueError(f"{spec.name}=None cannot be written as a command-line option")
        if isinstance(value, bool):  # the flag toggles the default
            words.append(flag_of(spec))
        elif isinstance(value, dict):
            words += [flag_of(spec), *(f"{key}={item}" for key, item in value.items())]
        elif isinstance(value, (list, tuple)):
            words += [flag_of(spec), *map(str, value)]
        else:
            words += [flag_of(spec), str(value)]
    return words


def from_arguments(cls: type[C], args: argparse.Namespace) -> C:
    """The config that parsed command-line ``args`` describe (``KEY=N`` lists become dicts)."""
    return cls(**overrides_from_arguments(cls, args))


def overrides_from_arguments(cls: type[Config], args: argparse.Namespace) -> dict[str, Any]:
    """The fields of ``cls`` that ``args`` hold, as values of the config (``KEY=N`` lists become dicts)."""
    values: dict[str, Any] = {}
    hints = _hints(cls)
    for spec in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not hasattr(args, spec.name):
            continue
        value = getattr(args, spec.name)
        kind, _ = _strip_optional(hints[spec.name])
        if typing.get_origin(kind) is dict and isinstance(value, list):
            value = dict(value) or None
        values[spec.name] = value
    return values
