"""The Serve app registry (ray_aks.serving.apps) is the one list: the builders, `ray-aks serve`'s
options, the chart's default `rayService.applications` and the serving README's table agree with it."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml
from ray_aks.serving.apps import SERVE_APPS, readme_table
from ray_aks.serving.command_config import AppName, ServeCommand

from tools.render_chart import CHART_DIR, REPO_ROOT

SERVING_README = REPO_ROOT / "workloads/src/ray_aks/serving/README.md"


def test_each_app_names_a_builder_and_a_deployment_its_module_has() -> None:
    for app in SERVE_APPS:
        module = importlib.import_module(app.module)
        assert callable(getattr(module, app.import_path.split(":")[1])), app.name
        assert hasattr(module, app.deployment), app.name


def test_the_serve_command_offers_each_app_and_each_option_is_one_of_its_fields() -> None:
    assert [a.value for a in AppName] == [app.name for app in SERVE_APPS] + ["all"]
    for app in SERVE_APPS:
        assert set(app.options) <= set(ServeCommand.model_fields), app.name


def test_the_chart_deploys_the_registry_apps_with_their_route_prefixes() -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    chart_apps = values["rayService"]["applications"]
    assert {name: (a["importPath"], a["routePrefix"]) for name, a in chart_apps.items()} == {
        app.name: (app.import_path, app.route_prefix) for app in SERVE_APPS
    }


def test_the_serving_readme_table_is_the_registry() -> None:
    text = Path(SERVING_README).read_text()
    assert readme_table() in text, f"regenerate the table in {SERVING_README}:\n{readme_table()}"
