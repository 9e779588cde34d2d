"""Typed config of `ray-aks data digits`: its fields are the command's options (ray_aks.cli_options)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class DigitsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    output: Path = Field(..., description="Directory to write the four MNIST idx files into.")
    gzip: bool = Field(True, description="Gzip the files (.gz), as MNIST is distributed.")
    seed: int = Field(0, description="Seed of the stratified train/test split.")
