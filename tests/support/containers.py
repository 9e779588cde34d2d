"""Real parts for the container tests: the Docker engine, the images `make image` builds, and a CNCF
distribution registry on loopback with TLS (a CA made here) and htpasswd basic auth, as ACR is."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.conftest import REPO_ROOT, free_port, stop_process_group, wait_until
from tools.e2e.pki import Authority

DOCKER = os.environ.get("DOCKER", "docker")
ENGINE_SCRIPT = REPO_ROOT / "tools" / "images" / "docker-engine.sh"
IMAGES = ("training", "serving", "embedding")
VARIANTS = ("cpu", "gpu")
# A fixed tag: every test run rebuilds the same references (no pile-up of per-commit tags), and the
# cluster tests run these same images.
TEST_TAG = "test"
# What `make test` builds with here: no Docker Hub (the Ray base is built here) and no model hub.
BUILD_ARGS = ["RAY_BASE=local", "MODEL_SOURCE=test", "VARIANTS=cpu gpu", f"IMAGE_TAG={TEST_TAG}"]
# How the chart runs the images: uid 1000, read-only root filesystem, writable /tmp only; no network.
RESTRICTED = ["--user", "1000:100", "--read-only", "--tmpfs", "/tmp:rw,exec,size=2g", "--network", "none"]
SUMMARY = REPO_ROOT / ".cache" / "images" / "summary.json"


def docker(*args: str, check: bool = True, env: dict[str, str] | None = None, timeout: float = 900):
    environment = os.environ | (env or {})
    result = subprocess.run(
        [DOCKER, *args], capture_output=True, text=True, env=environment, timeout=timeout, check=False
    )
    if check:
        assert result.returncode == 0, f"{DOCKER} {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@contextmanager
def docker_engine() -> Iterator[None]:
    """An engine for the session: the one that answers, or one started here and stopped after."""
    started_here = subprocess.run([ENGINE_SCRIPT, "status"], check=False).returncode != 0
    subprocess.run([ENGINE_SCRIPT, "start"], check=True)
    try:
        yield
    finally:
        if started_here:
            subprocess.run([ENGINE_SCRIPT, "stop"], check=False)


def image_ref(name: str, variant: str, tag: str = TEST_TAG, registry: str = "") -> str:
    return f"{registry + '/' if registry else ''}ray-aks-{name}:{tag}{'-gpu' if variant == 'gpu' else ''}"


def inspect(ref: str) -> dict:
    return json.loads(docker("image", "inspect", ref).stdout)[0]


def run_restricted(
    ref: str, *command: str, options: tuple[str, ...] = (), timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """`command` in a new container of `ref`, run as the chart runs it (RESTRICTED), plus `options`."""
    return docker("run", "--rm", *RESTRICTED, *options, ref, *command, check=False, timeout=timeout)


def record(key: str, value: object) -> None:
    """Figures for the note and the README (build times, sizes, digests): .cache/images/summary.json."""
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    summary = json.loads(SUMMARY.read_text()) if SUMMARY.exists() else {}
    summary[key] = value
    SUMMARY.write_text(json.dumps(summary, indent=2) + "\n")


# --- the registry ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Registry:
    host: str  # 127.0.0.1:<port>, what `make push REGISTRY=` takes
    ca_file: Path
    user: str
    password: str
    docker_config: Path  # DOCKER_CONFIG of the logged-in client

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    def login(self) -> dict[str, str]:
        """`docker login` (as a user logs in before `make push`); the environment of that client."""
        env = {"DOCKER_CONFIG": str(self.docker_config)}
        login = subprocess.run(
            [DOCKER, "login", self.host, "--username", self.user, "--password-stdin"],
            input=self.password, capture_output=True, text=True, env=os.environ | env, check=False,
        )  # fmt: skip
        assert login.returncode == 0, login.stderr
        return env

    def get(self, path: str, auth: bool = True, **headers: str) -> requests.Response:
        return requests.get(
            self.url + path,
            auth=(self.user, self.password) if auth else None,
            headers=headers,
            verify=str(self.ca_file),
            timeout=30,
        )


def make_ca_and_server_cert(directory: Path, address: str = "127.0.0.1") -> tuple[Path, Path, Path]:
    """A CA, and a server certificate for `address` signed by it: (ca.crt, server.crt, server.key)."""
    authority = Authority(directory)
    server = authority.issue("server", address, hosts=(address,), client=False)
    return authority.pair.cert, server.cert, server.key


def htpasswd_line(user: str, password: str) -> str:
    """A bcrypt htpasswd entry (the only hash the registry accepts), through the C library's crypt."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

    return f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))}"


@contextmanager
def local_registry(
    workdir: Path, address: str = "127.0.0.1", port: int | None = None, storage: Path | None = None
) -> Iterator[Registry]:
    """The distribution registry ($REGISTRY_BIN, built by make) on `address` with TLS and basic auth.
    The engine trusts its CA through /etc/docker/certs.d/<host>/ca.crt, removed afterwards. Its blobs
    go to `storage` when given (kept, so a second push of the same image uploads nothing), else to
    `workdir` (removed)."""
    binary = os.environ.get("REGISTRY_BIN") or shutil.which("registry")
    assert binary and Path(binary).exists(), "no REGISTRY_BIN: run these tests through make"
    ca_file, cert, key = make_ca_and_server_cert(workdir, address)
    user, password = "ray-aks", base64.urlsafe_b64encode(os.urandom(18)).decode()
    (workdir / "htpasswd").write_text(htpasswd_line(user, password) + "\n")
    host = f"{address}:{port or free_port()}"
    blobs = storage or workdir / "storage"
    config = {
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(blobs)}, "delete": {"enabled": True}},
        "http": {"addr": host, "tls": {"certificate": str(cert), "key": str(key)}},
        "auth": {"htpasswd": {"realm": "ray-aks-test", "path": str(workdir / "htpasswd")}},
    }
    (workdir / "config.yml").write_text(json.dumps(config))  # JSON is YAML
    certs_d = Path("/etc/docker/certs.d") / host
    certs_d.mkdir(parents=True, exist_ok=True)
    shutil.copy(ca_file, certs_d / "ca.crt")
    docker_config = workdir / "docker-config"
    docker_config.mkdir()
    log = (workdir / "registry.log").open("w")
    command = [binary, "serve", str(workdir / "config.yml")]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    registry = Registry(host, ca_file, user, password, docker_config)
    try:
        wait_until(
            lambda: _answers(registry) or proc.poll() is not None,
            30,
            "the registry to listen",
            interval=0.2,
            retry_errors=False,
        )
        assert proc.poll() is None, (workdir / "registry.log").read_text()
        yield registry
    finally:
        stop_process_group(proc)
        log.close()
        shutil.rmtree(certs_d, ignore_errors=True)
        if storage is None:
            shutil.rmtree(blobs, ignore_errors=True)


def _answers(registry: Registry) -> bool:
    try:
        return registry.get("/v2/", auth=False).status_code == 401
    except requests.ConnectionError:
        return False
