"""values.schema.json: one source for each fact it states.

- Descriptions are values.yaml's `# --` comments (tools/schemas/chart_values.py writes them; `make
  schema-check` diffs the whole file, this names the key that differs), and a default the schema
  states is values.yaml's.
- Values that take a Kubernetes type refer to that type, filled in from Kubernetes' OpenAPI
  documents without their prose: no free-form object is left for junk to pass through.
- Settings that repeat are written once (`podGroup`, `resources`, `image`) and referred to.
- The file is self-contained: helm validates offline with it alone.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
import yaml

from tools.render_chart import CHART_DIR
from tools.schemas.chart_values import (
    DERIVED,
    K8S,
    _simplify,
    complete_ray_cron_job,
    documented_keys,
    documented_nodes,
    property_node,
    resolve,
)

REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
SCHEMA_FILE = CHART_DIR / "values.schema.json"
VALUES_FILE = CHART_DIR / "values.yaml"
CORE = "#/definitions/io.k8s.api.core.v1."
# Objects whose keys are not the chart's to close: Ray's own structures the chart passes through
# unread (a runtime environment, a Serve app's builder args, autoscaling_config, actor options)
# and Kubernetes' FieldsV1 (free-form in Kubernetes too).
OPEN_BY_DESIGN = {
    "/definitions/rayJob/properties/runtimeEnv",
    "/definitions/serveApplication/properties/autoscalingConfig",
    "/definitions/serveApplication/properties/args",
    "/definitions/serveApplication/properties/rayActorOptions",
    "/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
    # Helm's `global` is shared with subcharts; kuberay-operator's keys are the upstream chart's.
    "/properties/global",
    "/properties/kuberay-operator",
}


def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text())


def values() -> dict[str, Any]:
    return yaml.safe_load(VALUES_FILE.read_text())


def nodes(node: Any, where: str = "") -> list[tuple[str, Any]]:
    """(JSON pointer, node) of every schema node."""
    found = [(where, node)]
    if isinstance(node, dict):
        for key, value in node.items():
            found += nodes(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += nodes(value, f"{where}/{i}")
    return found


def validator() -> jsonschema.Validator:
    root = schema()
    return jsonschema.validators.validator_for(root)(root)


def with_value(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = values()
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


# --- descriptions and defaults come from values.yaml --------------------------------------------


def test_every_documented_key_is_described_by_its_values_comment() -> None:
    """The first entry of a map (`rayJobs.mnist`, `workerGroups.cpu`) documents the definition its
    siblings share; keys inside a shared definition or a Kubernetes type are not the comment's."""
    root = schema()
    found = documented_nodes(root, VALUES_FILE.read_text())
    wrong = [
        f"{'.'.join(path)}: schema {node.get('description')!r} != values.yaml {text!r}"
        for path, node, text in found
        if node.get("description") != text
    ]
    assert not wrong, "run `make schema`:\n" + "\n".join(wrong)
    assert len(found) > 250, "the walk should reach most documented keys"


def test_defaults_the_schema_states_are_the_values_defaults() -> None:
    root = schema()
    checked: set[int] = set()

    def walk(value: Any, path: tuple[str, ...]) -> None:
        declared = property_node(root, path) if path else None
        if declared is not None and "default" in declared:
            assert declared["default"] == value, f"{'.'.join(path)}: the schema default is not values.yaml's"
            checked.add(id(declared))
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, (*path, key))

    walk(values(), ())
    stated = [
        where
        for where, node in nodes(root)
        if isinstance(node, dict) and "default" in node and id(node) not in checked
    ]
    assert stated == [], "defaults no values.yaml key states (state them in values.yaml)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# -- One line.\na: 1\n", [(("a",), "One line.")]),
        ("# -- (int) Typed,\n# two lines.\n# @default -- x\na: null\n", [(("a",), "Typed, two lines.")]),
        ("# -- Parent.\np:\n  # plain comment\n  c: 1\n", [(("p",), "Parent.")]),
        ("p:\n  # -- Child.\n  c.d/e: 1\n", [(("p", "c.d/e"), "Child.")]),
    ],
)
def test_documented_keys_reads_helm_docs_comments(text: str, expected: list) -> None:
    assert list(documented_keys(text)) == expected


def test_a_changed_values_comment_is_found() -> None:
    root = schema()
    text = VALUES_FILE.read_text().replace("# -- Render the RayCluster", "# -- Render the Ray cluster", 1)
    changed = {".".join(p): (n.get("description"), t) for p, n, t in documented_nodes(root, text)}
    old, new = changed["rayCluster.enabled"]
    assert old != new and new.startswith("Render the Ray cluster")


# --- Kubernetes types --------------------------------------------------------------------------


def kubernetes_type(root: dict[str, Any], node: dict[str, Any]) -> str:
    """The Kubernetes definition a node stands for, through the chart's own definitions (which
    refer to one, or narrow one with `allOf`)."""
    while not node.get("$ref", "").startswith(f"#/definitions/{K8S}"):
        if "$ref" in node:
            target: Any = root
            for part in node["$ref"][2:].split("/"):
                target = target[part]
            node = target
        else:
            node = node["allOf"][0]
    return node["$ref"]


@pytest.mark.parametrize(
    ("path", "ref"),
    [
        (("rayCluster", "podSecurityContext"), "PodSecurityContext"),
        (("rayCluster", "securityContext"), "SecurityContext"),
        (("rayCluster", "head", "affinity"), "Affinity"),
        (("rayCluster", "head", "tolerations", "items"), "Toleration"),
        (("rayCluster", "head", "topologySpreadConstraints", "items"), "TopologySpreadConstraint"),
        (("rayCluster", "head", "env", "items"), "EnvVar"),
        (("rayCluster", "head", "volumes", "items"), "Volume"),
        (("rayCluster", "head", "volumeMounts", "items"), "VolumeMount"),
        (("rayCluster", "head", "resources", "claims", "items"), "ResourceClaim"),
        (("mlflow", "podSecurityContext"), "PodSecurityContext"),
        (("mlflow", "securityContext"), "SecurityContext"),
        (("mlflow", "affinity"), "Affinity"),
        (("mlflow", "tolerations", "items"), "Toleration"),
    ],
)
def test_kubernetes_values_take_the_kubernetes_type(path: tuple[str, ...], ref: str) -> None:
    root = schema()
    node: Any = root
    for key in path:
        node = resolve(root, node)
        node = node[key] if key == "items" else node["properties"][key]
    assert kubernetes_type(root, node) == CORE + ref


def test_kubernetes_definitions_are_prose_free_strict_and_self_contained() -> None:
    root = schema()
    k8s = {name: d for name, d in root["definitions"].items() if name.startswith(K8S)}
    assert len(k8s) > 20
    for name, definition in k8s.items():
        for where, node in nodes(definition, name):
            if isinstance(node, dict):
                assert "description" not in node and "default" not in node, where
                assert not [k for k in node if k.startswith("x-")], where
                if "properties" in node:
                    assert node.get("additionalProperties") is False, f"{where} is open"
    for where, node in nodes(root):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            assert node["$ref"].startswith("#/"), f"{where} points outside the file"
            resolve(root, node)  # raises when the target is missing


def test_no_object_is_free_form() -> None:
    """Every object lists its keys or types its map values, except the few open by design."""
    open_objects = []
    for where, node in nodes(schema()):
        if not isinstance(node, dict) or where.endswith(("/properties", "/definitions")):
            continue
        kind = node.get("type")
        is_object = kind == "object" or (isinstance(kind, list) and "object" in kind)
        extra = node.get("additionalProperties")
        closed = extra is False or isinstance(extra, dict)
        if is_object and not closed and not node.get("patternProperties"):
            open_objects.append(where)
    assert sorted(set(open_objects) - OPEN_BY_DESIGN) == []


@pytest.mark.parametrize(
    ("path", "junk"),
    [
        (("rayCluster", "head", "tolerations"), [{"key": "sku", "zzfuzz": 1}]),
        (("rayCluster", "head", "tolerations"), [{"tolerationSeconds": "soon"}]),
        (("rayCluster", "head", "affinity"), {"nodeAffinity": {"zzfuzz": {}}}),
        (("rayCluster", "head", "topologySpreadConstraints"), [{"maxSkew": "one"}]),
        (("rayCluster", "head", "env"), [{"name": "A", "valueFrom": {"secretKeyRef": {"zzfuzz": "x"}}}]),
        (("rayCluster", "head", "env"), [{"name": ""}]),
        (("rayCluster", "head", "volumes"), [{"name": "v", "emptyDir": {"medium": 3}}]),
        (("rayCluster", "head", "volumeMounts"), [{"name": "v"}]),
        (("rayCluster", "podSecurityContext"), {"runAsUser": "root"}),
        (("rayCluster", "podSecurityContext"), {"zzfuzz": True}),
        (("rayCluster", "securityContext"), {"capabilities": {"drop": "ALL"}}),
        (("mlflow", "securityContext"), {"seccompProfile": {"localhostProfile": "p"}}),
        (("mlflow", "affinity"), {"podAntiAffinity": []}),
        (("rayCluster", "head", "resources"), {"claims": [{"zzfuzz": "x"}]}),
        (("rayCluster", "head", "resources"), {"limits": {"cpu": "lots"}}),
        (("rayCluster", "podSecurityContext", "runAsUser"), 0),
        (("mlflow", "podSecurityContext", "runAsNonRoot"), False),
        (("rayCluster", "securityContext", "capabilities"), {"drop": [""]}),
        (("mlflow", "securityContext", "capabilities"), {"add": ["NET_ADMIN"]}),
        (("rayCluster", "podSecurityContext", "runAsGroup"), 2**63),
    ],
)
def test_junk_in_a_kubernetes_value_is_refused(path: tuple[str, ...], junk: Any) -> None:
    assert not validator().is_valid(with_value(path, junk))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (
            ("rayCluster", "head", "tolerations"),
            [{"key": "sku", "operator": "Equal", "effect": "NoSchedule"}],
        ),
        (
            ("rayCluster", "head", "affinity"),
            {"nodeAffinity": {REQUIRED: {"nodeSelectorTerms": [{"matchFields": []}]}}},
        ),
        (("rayCluster", "head", "volumes"), [{"name": "v", "emptyDir": {"sizeLimit": "1Gi"}}]),
        (("rayCluster", "head", "volumes"), [{"name": "w", "emptyDir": {"sizeLimit": 1}}]),
        (
            ("rayCluster", "head", "resources"),
            {"requests": {"cpu": 2, "memory": "4Gi"}, "limits": {"cpu": "1500m"}},
        ),
        (
            ("rayCluster", "head", "env"),
            [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        ),
    ],
)
def test_kubernetes_values_accept_what_kubernetes_accepts(path: tuple[str, ...], value: Any) -> None:
    """Quantities take a string or a number, as Kubernetes' int-or-string does."""
    errors = [e.message for e in validator().iter_errors(with_value(path, value))]
    assert errors == []


# --- shared definitions ------------------------------------------------------------------------


def test_the_head_and_every_worker_group_share_the_pod_group_settings() -> None:
    root = schema()
    head = root["properties"]["rayCluster"]["properties"]["head"]["properties"]
    group = root["definitions"]["workerGroup"]["properties"]
    for key in root["definitions"]["podGroup"]["properties"]:
        for props in (head, group):
            assert props[key]["$ref"] == f"#/definitions/podGroup/properties/{key}", key


def test_resources_and_images_are_written_once() -> None:
    root = schema()
    refs = [node["$ref"] for _, node in nodes(root) if isinstance(node, dict) and "$ref" in node]
    assert refs.count("#/definitions/resources") >= 4  # head, worker groups, autoscaler, submitter, mlflow
    assert sum(r.startswith("#/definitions/image/properties/") for r in refs) >= 8
    resources = [
        where
        for where, node in nodes(root)
        if isinstance(node, dict)
        and "requests" in (node.get("properties") or {})
        and where != "/definitions/resources"
        and not where.startswith(f"/definitions/{K8S}")
    ]
    assert resources == []


def test_simplify_turns_a_lone_allof_into_its_reference() -> None:
    node = {"allOf": [{"$ref": "#/definitions/x"}], "default": {}}
    assert _simplify(node) == {"$ref": "#/definitions/x"}
    two = {"allOf": [{"$ref": "#/a"}, {"$ref": "#/b"}]}
    assert _simplify(two) == two


def test_the_defaults_and_gpu_overlay_validate() -> None:
    gpu = yaml.safe_load((CHART_DIR.parent / "ray-aks-gpu-values.yaml").read_text())
    merged = copy.deepcopy(values())

    def merge(base: dict, overlay: dict) -> None:
        for key, value in overlay.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value

    merge(merged, gpu)
    check = validator()
    assert [e.message for e in check.iter_errors(values())] == []
    assert [e.message for e in check.iter_errors(merged)] == []


SOURCE_FILE = CHART_DIR / "values.schema.source.json"
JOB_PROPERTIES = "#/definitions/rayJob/properties/"


def test_the_source_holds_only_what_is_written_by_hand() -> None:
    source = json.loads(SOURCE_FILE.read_text())
    written = [n for n in source["definitions"] if n.startswith(K8S) or n in DERIVED]
    assert written == [], f"{SOURCE_FILE.name} holds definitions `make schema` writes: {written}"
    assert "Generated" in schema()["$comment"] and "values.schema.source.json" in schema()["$comment"]


def test_a_ray_cron_job_takes_every_key_of_a_ray_job_from_the_ray_job() -> None:
    definitions = schema()["definitions"]
    job, cron = definitions["rayJob"], definitions["rayCronJob"]
    assert set(job["properties"]) <= set(cron["properties"])
    assert set(job["required"]) <= set(cron["required"])
    own = {
        k for k, v in cron["properties"].items() if v.get("$ref") != f"#/definitions/rayJob/properties/{k}"
    }
    assert own == {"name", "schedule", "timeZone", "suspend"}


def test_a_key_added_to_a_ray_job_in_the_source_is_a_ray_cron_jobs_too() -> None:
    definitions = copy.deepcopy(json.loads(SOURCE_FILE.read_text())["definitions"])
    definitions["rayJob"]["properties"]["priority"] = {"type": "integer"}
    complete_ray_cron_job(definitions)
    assert definitions["rayCronJob"]["properties"]["priority"] == {
        "$ref": "#/definitions/rayJob/properties/priority"
    }
