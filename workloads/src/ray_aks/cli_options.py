"""Typer commands built from typed configs: every CLI option is declared once, as a config field.

A field's name gives the option (`batch_size` -> `--batch-size`), its default the option's default,
its `description` the help text and its `ge`/`le`/`gt`/`lt` bounds the range the option accepts.
A field's `json_schema_extra` `{"cli": "--hidden"}` names the option differently.
`config_command(Config)` turns `fn(cfg: Config)` into a command with those options; it validates
what was parsed into `Config` and reports what the config refuses as a usage error naming the
option (exit 2, no traceback).

Imports only typer and pydantic: the CLI modules that use it must load without Ray or torch.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError, PydanticUndefined

ConfigT = TypeVar("ConfigT", bound=BaseModel)


def cli_fields(config: type[BaseModel]) -> dict[str, FieldInfo]:
    """The fields of `config` that are CLI options: the class's own first, then inherited ones."""
    names: dict[str, None] = {}
    for klass in config.__mro__:
        names.update(dict.fromkeys(vars(klass).get("__annotations__", {})))
    return {name: config.model_fields[name] for name in names if name in config.model_fields}


def option_name(name: str, field: FieldInfo) -> str:
    """The option of a field: `--batch-size` for `batch_size`, or the name its `cli` key gives."""
    return _cli_extra(field) or f"--{name.replace('_', '-')}"


def _cli_extra(field: FieldInfo) -> Any:
    extra = field.json_schema_extra
    return extra.get("cli") if isinstance(extra, dict) else None


def cli_type(annotation: Any) -> Any:
    """The type Typer parses: the field's type without `| None` (an absent option is None)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def bounds(field: FieldInfo) -> dict[str, Any]:
    """The numeric bounds of a field by kind, e.g. {"ge": 0, "lt": 1}."""
    return {
        kind: getattr(m, kind)
        for m in field.metadata
        for kind in ("gt", "ge", "lt", "le")
        if getattr(m, kind, None) is not None
    }


def describe_open_range(field: FieldInfo) -> str | None:
    """`0<x`, `0<=x<1`: the bounds Typer cannot show itself (one is `gt` or `lt`); else None.

    The lower bound comes first (`-inf` when there is none): help text in brackets that starts
    with a letter would be read as Rich markup and vanish.
    """
    found = bounds(field)
    if not {"gt", "lt"} & found.keys():
        return None
    low = f"{found['gt']}<" if "gt" in found else f"{found['ge']}<=" if "ge" in found else "-inf<"
    high = f"<{found['lt']}" if "lt" in found else f"<={found['le']}" if "le" in found else ""
    return f"{low}x{high}"


def _bounds_parser(kind: Any, field: FieldInfo) -> Callable[[str], Any]:
    """A Typer parser that checks the field's own bounds, so an open one is refused when parsed."""
    adapter = TypeAdapter(Annotated[kind, *field.metadata])

    def parse(value: str) -> Any:
        try:
            return adapter.validate_python(value)
        except ValidationError as err:
            raise PydanticCustomError("cli_value", err.errors()[0]["msg"]) from None

    return parse


def option(name: str, field: FieldInfo) -> Any:
    """The typer.Option of a config field."""
    if field.default is not PydanticUndefined:
        default = field.default
    else:
        default = None if field.default_factory is not None else ...
    settings: dict[str, Any] = {"help": field.description, "show_default": default is not None}
    open_range = describe_open_range(field)
    if open_range:
        settings["parser"] = _bounds_parser(cli_type(field.annotation), field)
        settings["help"] = f"{field.description} [{open_range}]"
    else:
        found = bounds(field)
        settings["min"], settings["max"] = found.get("ge"), found.get("le")
    # Typer names an option after its parameter, `--use-gpu/--no-use-gpu` for a bool: a name of
    # its own only where the field's `cli` key gives one.
    names = [_cli_extra(field)] if _cli_extra(field) else []
    return typer.Option(default, *names, **settings)


def build_config(config: type[ConfigT], values: dict[str, Any]) -> ConfigT:
    """Validate parsed CLI values into `config`; what it refuses is a usage error naming the option.

    Options left out (None, or an empty list) take the config's default.
    """
    given = {k: v for k, v in values.items() if v is not None and v != [] and v != ()}
    try:
        return config(**given)
    except ValidationError as err:
        fields = config.model_fields
        problems = "; ".join(
            f"{option_name(str(e['loc'][0]), fields[str(e['loc'][0])])}: {e['msg']}"
            if e["loc"] and e["loc"][0] in fields
            else e["msg"]
            for e in err.errors()
        )
        raise typer.BadParameter(problems) from None


def config_command(config: type[ConfigT]) -> Callable[[Callable[[ConfigT], None]], Callable[..., None]]:
    """Turn `fn(cfg)` into a Typer command whose options are the CLI fields of `config`.

    Register the result as usual (`@app.command("name")` above `@config_command(Config)`); the
    command's help is `fn`'s docstring.
    """
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter(name, keyword, default=option(name, field), annotation=cli_type(field.annotation))
        for name, field in cli_fields(config).items()
    ]

    def decorate(fn: Callable[[ConfigT], None]) -> Callable[..., None]:
        @functools.wraps(fn)
        def command(**values: Any) -> None:
            fn(build_config(config, values))

        command.__signature__ = inspect.Signature(parameters, return_annotation=None)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        del command.__wrapped__  # type: ignore[attr-defined]  # Typer reads the signature above, not fn's
        return command

    return decorate
