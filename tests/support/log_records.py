"""Log records as the log collector writes them: the file exporter's OTLP JSON (one export request a
line, tools/otelcol/otlp-to-file.yaml) read back into plain records, for the image test and the e2e
logs scenario."""

from __future__ import annotations

import json
from typing import Any


def _value(any_value: dict[str, Any]) -> Any:
    """An OTLP AnyValue as Python (strings, numbers, booleans; anything else as its JSON)."""
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in any_value:
            return any_value[key]
    if "intValue" in any_value:
        return int(any_value["intValue"])
    return json.dumps(any_value, sort_keys=True)


def otlp_json_records(text: str) -> list[dict[str, Any]]:
    """Every log record of the file exporter's output: {"body": str, "attributes": {key: value}},
    the resource's attributes merged under the record's own."""
    records = []
    for line in text.splitlines():
        if not line.strip():
            continue
        for resource_logs in json.loads(line).get("resourceLogs", []):
            resource = {
                a["key"]: _value(a.get("value", {}))
                for a in (resource_logs.get("resource") or {}).get("attributes", [])
            }
            for scope_logs in resource_logs.get("scopeLogs", []):
                for record in scope_logs.get("logRecords", []):
                    attributes = {a["key"]: _value(a.get("value", {})) for a in record.get("attributes", [])}
                    records.append(
                        {"body": str(_value(record.get("body", {}))), "attributes": resource | attributes}
                    )
    return records
