"""The Serve apps this package ships, one entry each: `ray-aks serve` (its `--app` choices, builders,
route prefixes and the options that pick a model), the serving README's table and the chart's
`rayService.applications` defaults are derived from or checked against this list
(tests/workloads/test_serve_apps.py). Adding an app is one entry here and its builder module.

Imports nothing heavy: the builders load when `ray-aks serve` runs."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServeApp:
    # Also its builder's module, ray_aks.serving.<name>, and its `ray-aks serve --<name>-model`.
    name: str
    deployment: str
    # Route prefix when several apps share one Serve proxy (`ray-aks serve --app all`, the chart).
    route_prefix: str
    endpoints: tuple[str, ...]
    # `ray-aks serve` options besides the model's -> the builder arg each sets.
    more_options: dict[str, str] = field(default_factory=dict)

    @property
    def module(self) -> str:
        return f"ray_aks.serving.{self.name}"

    @property
    def import_path(self) -> str:
        """serveConfigV2 `import_path`: the module's builder `app`, which takes the app's args dict."""
        return f"{self.module}:app"

    @property
    def options(self) -> dict[str, str]:
        """`ray-aks serve` option -> the builder arg it sets (the model and where it comes from)."""
        return {f"{self.name}_model": "model", **self.more_options}


SERVE_APPS: tuple[ServeApp, ...] = (
    ServeApp(
        name="mnist",
        deployment="MnistService",
        route_prefix="/mnist",
        endpoints=("POST /predict", "POST /"),
        more_options={"tracking_uri": "tracking_uri"},
    ),
    ServeApp(
        name="textgen",
        deployment="TextGenService",
        # The root, so clients of the text generation API post to /text/simple-gen.
        route_prefix="/",
        endpoints=("POST /text/simple-gen",),
    ),
    ServeApp(
        name="embeddings",
        deployment="EmbeddingService",
        route_prefix="/embed",
        endpoints=("POST /embeddings",),
    ),
)
SERVE_APPS_BY_NAME = {app.name: app for app in SERVE_APPS}


def readme_table() -> str:
    """The serving README's table of apps (checked equal to the README)."""
    rows = ["| import_path | deployment | endpoints |", "|---|---|---|"]
    for app in SERVE_APPS:
        endpoints = ", ".join(f"`{e}`" for e in (*app.endpoints, "GET /healthz"))
        rows.append(f"| `{app.import_path}` | `{app.deployment}` | {endpoints} |")
    return "\n".join(rows)
