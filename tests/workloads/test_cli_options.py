"""Every `ray-aks` option is its config's field: name, default, bounds and help cannot drift apart.

The first tests hold each command's Click options against the pydantic config it builds, reading
the config's fields directly (not through ray_aks.cli_options), so they fail whether a command is
hand-written or derived; the last ones pin down ray_aks.cli_options itself on small models.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any

import pytest
import typer
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, field_validator
from ray_aks.cli import app
from ray_aks.cli_options import build_config, cli_fields, config_command, describe_open_range
from ray_aks.data.config import DigitsConfig
from ray_aks.embedding.config import EmbedCommand
from ray_aks.evaluation.config import ClipEvalConfig
from ray_aks.preprocess.config import PreprocessConfig
from ray_aks.serving.command_config import ServeCommand
from ray_aks.training.config import ClipClassifierConfig, MnistTrainConfig, default_storage_path
from ray_aks.tuning.config import TuneMnistConfig
from typer.testing import CliRunner

CONFIGS: dict[tuple[str, ...], type[BaseModel]] = {
    ("train", "mnist"): MnistTrainConfig,
    ("train", "clip-classifier"): ClipClassifierConfig,
    ("evaluate", "clip-classifier"): ClipEvalConfig,
    ("tune",): TuneMnistConfig,
    ("preprocess",): PreprocessConfig,
    ("embed",): EmbedCommand,
    ("serve",): ServeCommand,
    ("data", "digits"): DigitsConfig,
}
# Fields that are not options (none today), and options not named after their field.
NOT_OPTIONS: set[str] = set()
RENAMED = {"hidden_choices": "--hidden", "batch_size_choices": "--batch-size"}
IDS = [" ".join(path) for path in CONFIGS]

runner = CliRunner()


def _command(path: tuple[str, ...]) -> Any:
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


def _options(path: tuple[str, ...]) -> dict[str, Any]:
    """The command's options by parameter name, --help left out."""
    return {p.name: p for p in _command(path).params if p.param_type_name == "option" and p.name != "help"}


def _pairs(path: tuple[str, ...]) -> list[tuple[str, Any, Any]]:
    """(name, Click option, pydantic field) for every option of the command."""
    fields = CONFIGS[path].model_fields
    return [(name, option, fields[name]) for name, option in _options(path).items()]


def _scalar(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        (annotation,) = [a for a in typing.get_args(annotation) if a is not type(None)]
    return annotation


@pytest.mark.parametrize("path", list(CONFIGS), ids=IDS)
def test_options_are_exactly_the_config_fields(path: tuple[str, ...]) -> None:
    assert set(_options(path)) == set(CONFIGS[path].model_fields) - NOT_OPTIONS


@pytest.mark.parametrize("path", list(CONFIGS), ids=IDS)
def test_option_names_come_from_the_field_names(path: tuple[str, ...]) -> None:
    for name, option, _ in _pairs(path):
        assert option.opts == [RENAMED.get(name, f"--{name.replace('_', '-')}")], name


@pytest.mark.parametrize("path", list(CONFIGS), ids=IDS)
def test_bool_options_have_a_no_form_for_the_chart(path: tuple[str, ...]) -> None:
    for name, option, field in _pairs(path):
        if field.annotation is bool:
            assert option.secondary_opts == [f"--no-{name.replace('_', '-')}"], name


@pytest.mark.parametrize("path", list(CONFIGS), ids=IDS)
def test_option_default_is_the_field_default(path: tuple[str, ...]) -> None:
    for name, option, field in _pairs(path):
        if field.is_required():
            assert option.required, f"{name}: the config requires it, the CLI does not"
        elif field.default_factory is not None:
            assert option.default is None and not option.required, name
        else:
            assert option.default == field.default and not option.required, name


@pytest.mark.parametrize("path", list(CONFIGS), ids=IDS)
def test_option_help_is_the_field_description(path: tuple[str, ...]) -> None:
    for name, option, field in _pairs(path):
        assert field.description, f"{name} has no description, so its option has no help"
        assert option.help.startswith(field.description), name


def _near(bound: float, annotation: Any) -> list[float]:
    steps = [1] if annotation is int else [1, 0.001]
    return [bound + sign * step for step in steps for sign in (-1, 1)] + [bound]


@pytest.mark.parametrize("path", list(CONFIGS), ids=IDS)
def test_option_accepts_exactly_the_values_its_field_accepts_near_each_bound(path: tuple[str, ...]) -> None:
    command = _command(path)
    required = [arg for p in command.params if p.required for arg in (p.opts[0], "x")]
    for _, option, field in _pairs(path):
        kind = _scalar(field.annotation)
        limits = [getattr(m, k) for m in field.metadata for k in ("gt", "ge", "lt", "le") if hasattr(m, k)]
        if kind not in (int, float) or not limits:
            continue
        adapter = TypeAdapter(Annotated[kind, *field.metadata])
        for value in (v for limit in limits for v in _near(limit, kind)):
            try:
                adapter.validate_python(value)
                field_accepts = True
            except ValidationError:
                field_accepts = False
            try:
                command.make_context("ray-aks", [*required, option.opts[0], str(value)])
                cli_accepts = True
            except typer.BadParameter:
                cli_accepts = False
            assert cli_accepts == field_accepts, (
                f"{option.opts[0]} {value}: CLI {cli_accepts}, config {field_accepts}"
            )


@pytest.mark.parametrize(
    ("path", "args", "accepted"),
    [
        (("train", "clip-classifier"), ["--dropout", "0.995"], True),
        (("train", "clip-classifier"), ["--test-fraction", "0.005"], True),
        (("train", "mnist"), ["--cpus-per-worker", "0.005"], True),
        (("train", "mnist"), ["--lr", "0"], False),
        (("train", "clip-classifier"), ["--lr", "0"], False),
    ],
)
def test_known_drifts_are_gone(path: tuple[str, ...], args: list[str], accepted: bool) -> None:
    """The CLI once refused a dropout of 0.995 and let an lr of 0 through parsing; the configs did not."""
    try:
        _command(path).make_context("ray-aks", ["--data-dir", "d", *args])
        refused = None
    except typer.BadParameter as err:
        refused = err
    assert refused is None if accepted else args[0] in refused.param.opts


def test_open_bounds_are_shown_in_the_help() -> None:
    result = runner.invoke(app, ["train", "clip-classifier", "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    assert "Dropout before the last layer. [0<=x<1]" in " ".join(result.output.split())


def test_an_empty_model_alias_sets_none() -> None:
    assert MnistTrainConfig(data_dir="d", model_alias="").model_alias is None


@pytest.mark.parametrize(("use_gpu", "device"), [(True, "cuda"), (False, "cpu")])
def test_clip_embedding_runs_where_the_workers_do(use_gpu: bool, device: str) -> None:
    assert ClipClassifierConfig(data_dir="d", use_gpu=use_gpu).embed_device == device


# ray_aks.cli_options on its own.


class Toy(BaseModel):
    name: str = Field(..., description="A name.")
    rate: float = Field(0.5, gt=0, lt=1, description="A rate.")
    widths: list[int] = Field([8], description="Widths.", json_schema_extra={"cli": "--width"})

    @field_validator("widths")
    @classmethod
    def _even(cls, value: list[int]) -> list[int]:
        if any(w % 2 for w in value):
            raise ValueError("widths must be even")
        return value


class ToyChild(Toy):
    extra: bool = Field(False, description="An extra switch.")


def _toy_app(seen: list[Toy]) -> typer.Typer:
    toy_app = typer.Typer()

    @toy_app.command()
    @config_command(Toy)
    def toy(cfg: Toy) -> None:
        """Run the toy."""
        seen.append(cfg)

    return toy_app


def test_config_command_passes_the_validated_config() -> None:
    seen: list[Toy] = []
    result = runner.invoke(_toy_app(seen), ["--name", "n", "--rate", "0.25", "--width", "2", "--width", "4"])
    assert result.exit_code == 0, result.output
    assert seen == [Toy(name="n", rate=0.25, widths=[2, 4])]


def test_config_command_help_is_the_docstring_and_the_descriptions() -> None:
    result = runner.invoke(_toy_app([]), ["--help"], env={"COLUMNS": "200"})
    words = " ".join(result.output.split())
    assert "Run the toy." in words and "A rate. [0<x<1]" in words


def test_a_value_a_field_validator_refuses_is_a_usage_error_naming_the_option() -> None:
    result = runner.invoke(_toy_app([]), ["--name", "n", "--width", "3"], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--width: Value error, widths must be even" in " ".join(result.output.split())


def test_a_model_level_error_is_reported_without_an_option_name() -> None:
    with pytest.raises(typer.BadParameter) as err:
        build_config(TuneMnistConfig, {"data_dir": "d", "grace_period": 5, "max_epochs": 2})
    assert err.value.message.startswith("Value error, grace_period (5) must not exceed")


def test_options_left_out_take_the_config_defaults() -> None:
    cfg = build_config(TuneMnistConfig, {"data_dir": "d", "lr_grid": [], "storage_path": None})
    assert cfg.lr_grid is None and cfg.storage_path == default_storage_path()


def test_a_subclass_lists_its_own_fields_before_inherited_ones() -> None:
    assert list(cli_fields(ToyChild)) == ["extra", "name", "rate", "widths"]


@pytest.mark.parametrize(
    ("field", "shown"),
    [
        (Field(1.0, gt=0), "0<x"),
        (Field(0.5, ge=0, lt=1), "0<=x<1"),
        (Field(0.5, lt=1), "-inf<x<1"),
        (Field(1, ge=1), None),
        (Field(1), None),
    ],
)
def test_describe_open_range(field: Any, shown: str | None) -> None:
    assert describe_open_range(field) == shown
