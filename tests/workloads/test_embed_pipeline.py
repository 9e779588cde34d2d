"""`ray-aks embed` on the session's real local Ray: text lines, parquet (through the CLI) and an
image folder with a tiny CLIP, each writing one vector of the right dimension per input row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from ray_aks import cli
from ray_aks.embedding.config import EmbedConfig
from ray_aks.embedding.pipeline import run_embedding
from typer.testing import CliRunner

from tests.workloads.serving_fixtures import build_tiny_clip, cli_text
from tools.minilm import minilm_path

SENTENCES = [
    f"Sentence number {i} talks about {topic}."
    for i, topic in enumerate(["the sea", "a robot", "the weather", "music", "a small dog"] * 12)
]


def vectors(table: pa.Table) -> np.ndarray:
    column = table.column("embedding").combine_chunks()
    return column.values.to_numpy().reshape(len(table), column.type.list_size)


@pytest.mark.slow
def test_text_lines_get_one_unit_vector_per_line(ray_local: None, tmp_path: Path) -> None:
    source = tmp_path / "lines"
    source.mkdir()
    (source / "a.txt").write_text("\n".join(SENTENCES[:35]) + "\n")
    (source / "b.txt").write_text("\n".join(SENTENCES[35:]) + "\n\n")  # empty lines are skipped
    config = EmbedConfig(input=str(source), output=str(tmp_path / "out"), model=minilm_path(), batch_size=16)

    report = run_embedding(config)

    assert (report.rows, report.dimension) == (len(SENTENCES), 384)
    assert report.rows_per_s > 0
    table = pq.read_table(tmp_path / "out")
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), 384)
    assert sorted(table.column("text").to_pylist()) == sorted(SENTENCES)
    assert len(set(table.column("id").to_pylist())) == len(SENTENCES)
    np.testing.assert_allclose(np.linalg.norm(vectors(table), axis=1), 1.0, atol=1e-4)


@pytest.mark.slow
def test_cli_embeds_parquet_keeping_its_ids(ray_local: None, tmp_path: Path) -> None:
    ids = [f"doc-{i:03d}" for i in range(20)]
    texts = SENTENCES[:10] * 2  # each text twice, under two ids
    pq.write_table(
        pa.table({"doc_id": ids, "body": texts, "other": list(range(20))}), tmp_path / "in.parquet"
    )
    out = tmp_path / "out"

    result = CliRunner().invoke(
        cli.app,
        [
            "embed",
            "--input",
            str(tmp_path / "in.parquet"),
            "--output",
            str(out),
            "--model",
            minilm_path(),
            "--text-column",
            "body",
            "--id-column",
            "doc_id",
            "--batch-size",
            "8",
            "--no-keep-input",
        ],
    )

    assert result.exit_code == 0, result.output
    assert "embedded 20 rows (384-d)" in result.output and "rows/s" in result.output
    table = pq.read_table(out)
    assert table.column_names == ["id", "embedding"]
    by_id = dict(zip(table.column("id").to_pylist(), vectors(table), strict=True))
    assert sorted(by_id) == ids
    for i in range(10):  # the same text under two ids got the same vector
        np.testing.assert_allclose(by_id[ids[i]], by_id[ids[i + 10]], atol=1e-5)


@pytest.mark.slow
def test_image_folder_gets_one_clip_vector_per_image(ray_local: None, tmp_path: Path) -> None:
    model = build_tiny_clip(tmp_path / "tiny-clip", projection_dim=16)
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        size = (24 + 4 * i, 40 - i)  # varied sizes: the processor resizes
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(images / f"img{i:02d}.png")
    config = EmbedConfig(
        input=str(images), output=str(tmp_path / "out"), kind="image", model=str(model), batch_size=5
    )

    report = run_embedding(config)

    assert (report.rows, report.dimension) == (12, 16)
    table = pq.read_table(tmp_path / "out")
    assert sorted(Path(p).name for p in table.column("id").to_pylist()) == [
        f"img{i:02d}.png" for i in range(12)
    ]
    embedded = vectors(table)
    np.testing.assert_allclose(np.linalg.norm(embedded, axis=1), 1.0, atol=1e-4)
    assert len({tuple(np.round(v, 5)) for v in embedded}) == 12  # different images, different vectors


def test_bad_flags_get_usage_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("hello\n")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.parquet").write_bytes(b"")
    text_in = ["embed", "--input", str(tmp_path / "in.txt")]
    cases = {
        ("--output", "o", "--batch-size", "0"): "Invalid value for '--batch-size'",
        ("--output", "o", "--kind", "video"): "Invalid value for '--kind'",
        ("--output", "o", "--input-format", "images"): "kind=text reads text lines or parquet, not images",
        # Checked before Ray starts: a full output directory is refused without --overwrite.
        ("--output", str(tmp_path / "full")): "is not empty; pass --overwrite to replace it",
    }
    for extra, message in cases.items():
        result = CliRunner().invoke(cli.app, [*text_in, *extra])
        assert result.exit_code == 2, result.output
        assert "Usage:" in result.output and message in cli_text(result.output)
    missing = CliRunner().invoke(cli.app, ["embed", "--input", str(tmp_path / "nope"), "--output", "o"])
    assert missing.exit_code == 2 and "does not exist" in cli_text(missing.output)
    assert (tmp_path / "full" / "old.parquet").exists()


def test_cpu_actors_share_the_cores_instead_of_using_one_each() -> None:
    # Ray starts actors with OMP_NUM_THREADS = reserved CPUs (1): one actor used one of 2 cores.
    config = EmbedConfig(input="in.txt", output="out")
    assert config.threads_on(cluster_cpus=2, node_cpus=2) == 2
    assert config.model_copy(update={"concurrency": 2}).threads_on(cluster_cpus=2, node_cpus=2) == 1
    # Never more than one node's cores per actor, never fewer than the CPUs it reserves.
    assert config.model_copy(update={"concurrency": 4}).threads_on(cluster_cpus=64, node_cpus=8) == 8
    assert config.model_copy(update={"concurrency": 8, "num_cpus": 2}).threads_on(2, 2) == 2
    # An explicit value wins; GPU actors keep their reservation.
    assert config.model_copy(update={"torch_threads": 3}).threads_on(cluster_cpus=2, node_cpus=2) == 3
    assert config.model_copy(update={"num_gpus": 1.0}).threads_on(cluster_cpus=16, node_cpus=16) == 1
