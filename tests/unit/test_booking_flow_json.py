"""The committed booking Flow JSON is consistent: versions, routing, bindings and payloads."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

FLOW = Path(__file__).parents[2] / "core" / "messaging" / "flows" / "booking_flow.json"
# what core/messaging/flows/booking.py reads from each screen's data_exchange payload
PAYLOADS = {"DEPARTMENT": {"department"}, "DOCTOR": {"doctor", "date"}, "SLOT": {"slot"}}


def load() -> dict[str, Any]:
    flow: dict[str, Any] = json.loads(FLOW.read_text())
    return flow


def walk(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found += walk(value)
    elif isinstance(node, list):
        for value in node:
            found += walk(value)
    return found


def test_flow_json_is_7_3_with_data_api_4_and_a_routing_model_over_its_screens():
    flow = load()
    assert (flow["version"], flow["data_api_version"]) == ("7.3", "4.0")
    ids = [s["id"] for s in flow["screens"]]
    assert set(flow["routing_model"]) == set(ids)
    assert all(set(targets) <= set(ids) for targets in flow["routing_model"].values())
    terminal = [s["id"] for s in flow["screens"] if s.get("terminal")]
    assert terminal == ["SLOT"] and flow["routing_model"]["SLOT"] == []


def test_every_binding_is_declared_and_every_payload_is_what_the_endpoint_reads():
    for screen in load()["screens"]:
        nodes = walk(screen["layout"])
        text = json.dumps(screen["layout"])
        for name in re.findall(r"\$\{data\.(\w+)\}", text):
            assert name in screen["data"], (screen["id"], name)
            assert "__example__" in screen["data"][name]
        fields = {n["name"] for n in nodes if "name" in n and n.get("type") != "Form"}
        for name in re.findall(r"\$\{form\.(\w+)\}", text):
            assert name in fields, (screen["id"], name)
        actions = [n["on-click-action"] for n in nodes if "on-click-action" in n]
        assert [a["name"] for a in actions] == ["data_exchange"]
        assert set(actions[0]["payload"]) == PAYLOADS[screen["id"]]
