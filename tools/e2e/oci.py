"""Single-binary container images (the pause process, CoreDNS, the KubeRay operator), written as OCI
archives that `ctr images import` takes: the e2e cluster cannot pull, and these images need nothing
but one static Go binary, so no container engine is involved in making them."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path


def _blob(tar: tarfile.TarFile, data: bytes, media_type: str) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest}")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def _layer(binary: Path, path_in_image: str) -> tuple[bytes, str]:
    """A gzip layer holding `binary` at `path_in_image` (root-owned, 0755), and its uncompressed digest."""
    raw = io.BytesIO()
    binary = binary.resolve()  # bin/e2e holds links to the pinned builds: put the file itself in
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as layer:
        info = layer.gettarinfo(str(binary), arcname=path_in_image.lstrip("/"))
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mode = 0o755
        info.mtime = 0
        with binary.open("rb") as f:
            layer.addfile(info, f)
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    return gzip.compress(raw.getvalue(), compresslevel=1, mtime=0), diff_id


def write_archive(
    archive: Path, reference: str, binary: Path, entrypoint: list[str], user: str = "65532:65532"
) -> Path:
    """An OCI image archive tagged `reference`: `binary` at entrypoint[0], run as `user`."""
    layer, diff_id = _layer(binary, entrypoint[0])
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": entrypoint, "User": user, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w") as tar:
        layer_desc = _blob(tar, layer, "application/vnd.oci.image.layer.v1.tar+gzip")
        config_desc = _blob(tar, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config_desc,
            "layers": [layer_desc],
        }
        manifest_desc = _blob(
            tar, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json"
        )
        # containerd names an imported image by the first annotation; the OCI one holds the tag.
        manifest_desc["annotations"] = {
            "io.containerd.image.name": reference,
            "org.opencontainers.image.ref.name": reference.rsplit(":", 1)[-1],
        }
        manifest_desc["platform"] = {"architecture": "amd64", "os": "linux"}
        for name, content in (
            ("oci-layout", {"imageLayoutVersion": "1.0.0"}),
            ("index.json", {"schemaVersion": 2, "manifests": [manifest_desc]}),
        ):
            data = json.dumps(content).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive
