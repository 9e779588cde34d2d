"""Typed configuration of `ray-aks preprocess`; its fields are the command's options (ray_aks.cli_options)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Method = Literal["standard", "minmax", "l2"]
InputFormat = Literal["auto", "parquet", "csv", "numpy"]


class PreprocessConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: str = Field(
        ...,
        description="A parquet, CSV or .npy file, or a directory of them (on shared storage in a cluster).",
    )
    output: str = Field(
        ..., description="New (or empty) directory for the parquet output (shared storage in a cluster)."
    )
    input_format: InputFormat = Field("auto", description="auto (from file suffixes), parquet, csv or numpy.")
    method: Method = Field(
        "standard",
        description="standard (zero mean, unit variance per column), minmax ([0, 1] per column) "
        "or l2 (unit-length records).",
    )
    columns: list[str] | None = Field(
        None, description="Numeric columns to normalise (repeatable; default: all)."
    )
