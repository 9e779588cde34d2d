"""Walk an OpenAPI v3 schema and turn it into a strict JSON schema for kubeconform.

Strict means what the API server enforces for unknown fields: an object with declared
`properties` accepts no other key, unless it says otherwise (`additionalProperties`, or
`x-kubernetes-preserve-unknown-fields: true`). Descriptions and `x-` extensions are dropped:
they do not validate anything and make the files several times larger.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Schema = dict[str, Any]

# Keywords whose value is one schema, a list of schemas, or a map of name -> schema.
_ONE = ("items", "not", "additionalItems", "contains", "propertyNames")
_LIST = ("allOf", "anyOf", "oneOf")
_MAP = ("properties", "patternProperties", "definitions", "$defs")


def strict(schema: Any, ref: Callable[[str], str] | None = None) -> Any:
    """A strict copy of `schema`; `ref` rewrites each $ref (e.g. to a local #/definitions/ path)."""
    if not isinstance(schema, dict):
        return schema
    out: Schema = {}
    for key, value in schema.items():
        if key == "description" or key.startswith("x-"):
            continue
        if key in _ONE:
            out[key] = strict(value, ref)
        elif key in _LIST:
            out[key] = [strict(s, ref) for s in value]
        elif key in _MAP:
            out[key] = {name: strict(s, ref) for name, s in value.items()}
        elif key == "additionalProperties":
            out[key] = strict(value, ref) if isinstance(value, dict) else value
        elif key == "$ref" and ref is not None:
            out[key] = ref(value)
        else:
            out[key] = value

    if schema.get("x-kubernetes-int-or-string") and not any(k in out for k in _LIST):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") is True:
        out.pop("nullable")
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
    else:
        out.pop("nullable", None)
    if schema.get("x-kubernetes-embedded-resource"):
        # An embedded object (e.g. a template) always carries its own apiVersion, kind, metadata.
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def kind_suffix(group: str, version: str) -> str:
    """kubeconform's {{ .KindSuffix }}: -<first label of the group>-<version>, or -<version> for core."""
    return f"-{group.split('.')[0].lower()}-{version.lower()}" if group else f"-{version.lower()}"
