# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Edge-node planning: desired labels and taints -> the smallest set of node patches, with safety guards.

The plan is computed from one LIST of nodes.  Taints are matched on key and effect, as the kubelet and
scheduler do; a new value replaces the old one in place.  Labels and taints that the user did not name
are never touched.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import KubeError
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.labels import (
    SelectorError, key_error, name_error, parse_selector, selector_matches, value_error)

EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# Taints that keep ordinary pods away from a node; PreferNoSchedule is only a preference.
BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")
CONFLICT_RETRIES = 3


class PlanError(ValueError):
    """The request cannot be carried out safely or is malformed; nothing was written."""


@dataclass
class NodeChange:
    """What one node looks like now and after the plan."""

    name: str
    selected: bool
    before: dict
    after: dict
    resource_version: str = ""

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def result(self) -> dict:
        return {"name": self.name, "selected": self.selected, "changed": self.changed,
                "before": self.before, "after": self.after}


@dataclass
class Plan:
    changes: list[NodeChange] = field(default_factory=list)
    edge_nodes: list[str] = field(default_factory=list)
    schedulable_workers: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def to_patch(self) -> list[NodeChange]:
        return [c for c in self.changes if c.changed]


def validate(params: dict) -> list[dict]:
    """Check every input before anything is read or written; returns the normalised taints.

    All problems are reported together, so one run shows everything to fix.
    """
    errors = []
    for name in params.get("nodes") or []:
        problem = name_error(name)
        if problem:
            errors.append(f"node name '{name}' {problem}")
    for key, value in (params.get("labels") or {}).items():
        if key_error(key):
            errors.append(f"label key '{key}' {key_error(key)}")
        if value_error(str(value)):
            errors.append(f"label '{key}' value '{value}' {value_error(str(value))}")
    taints = []
    seen = set()
    for index, taint in enumerate(params.get("taints") or []):
        key, value, effect = taint.get("key"), str(taint.get("value") or ""), taint.get("effect")
        where = f"taint #{index + 1} ('{key}={value}:{effect}')"
        if key_error(key):
            errors.append(f"{where}: key {key_error(key)}")
        if value_error(value):
            errors.append(f"{where}: value {value_error(value)}")
        if effect not in EFFECTS:
            errors.append(f"{where}: effect '{effect}' is not one of {', '.join(EFFECTS)}")
        if (key, effect) in seen:
            errors.append(f"{where}: key '{key}' with effect '{effect}' is given twice; a node holds one taint "
                          f"per key and effect")
        seen.add((key, effect))
        taints.append({"key": key, "value": value, "effect": effect})
    if params.get("selector"):
        try:
            parse_selector(params["selector"])
        except SelectorError as exc:
            errors.append(str(exc))
    if not params.get("nodes") and not params.get("selector") and params.get("state") == "present":
        errors.append("choose the edge nodes with 'nodes' (names) and/or 'selector' (a label selector)")
    if errors:
        raise PlanError("; ".join(errors))
    return taints


def node_view(node: dict) -> dict:
    """The part of a node this module manages and reports: labels, taints, cordon state."""
    return {"labels": dict(node["metadata"].get("labels") or {}),
            "taints": [normalise_taint(t) for t in node.get("spec", {}).get("taints") or []]}


def normalise_taint(taint: dict) -> dict:
    """A taint as the user writes it (key, value, effect), plus timeAdded when the API server set one."""
    out = {"key": taint["key"], "value": taint.get("value") or "", "effect": taint["effect"]}
    if taint.get("timeAdded"):
        out["timeAdded"] = taint["timeAdded"]
    return out


def with_edge(view: dict, labels: dict, taints: list[dict]) -> dict:
    after = copy.deepcopy(view)
    after["labels"].update({k: str(v) for k, v in labels.items()})
    for wanted in taints:
        for existing in after["taints"]:
            if (existing["key"], existing["effect"]) == (wanted["key"], wanted["effect"]):
                if existing["value"] != wanted["value"]:
                    existing["value"] = wanted["value"]
                    existing.pop("timeAdded", None)
                break
        else:
            after["taints"].append(dict(wanted))
    return after


def without_edge(view: dict, labels: dict, taints: list[dict]) -> dict:
    after = copy.deepcopy(view)
    for key, value in labels.items():
        if after["labels"].get(key) == str(value):
            del after["labels"][key]
    # Only the edge taints themselves go: a dedicated=gpu:NoSchedule taint is someone else's.
    wanted = {(t["key"], t["value"], t["effect"]) for t in taints}
    after["taints"] = [t for t in after["taints"] if (t["key"], t["value"], t["effect"]) not in wanted]
    return after


def is_edge(view: dict, labels: dict, taints: list[dict]) -> bool:
    return with_edge(view, labels, taints) == view and bool(labels or taints)


def is_schedulable_worker(node: dict, view: dict) -> bool:
    """A node where an ordinary pod without tolerations can be scheduled."""
    if node.get("spec", {}).get("unschedulable"):
        return False
    return not any(t["effect"] in BLOCKING_EFFECTS for t in view["taints"])


def plan(nodes: list[dict], params: dict, taints: list[dict]) -> Plan:
    """Work out the changes for every node, then enforce the guards; raises PlanError before any write."""
    by_name = {n["metadata"]["name"]: n for n in nodes}
    unknown = [name for name in params.get("nodes") or [] if name not in by_name]
    if unknown:
        raise PlanError(f"unknown node(s): {', '.join(sorted(unknown))}; the cluster has "
                        f"{len(by_name)} node(s): {', '.join(sorted(by_name)[:20])}")
    requirements = parse_selector(params["selector"]) if params.get("selector") else None
    wanted_names = set(params.get("nodes") or [])
    labels = params.get("labels") or {}
    state = params["state"]
    # state=absent without a selection means: no node is an edge node any more.
    everything = state == "absent" and not wanted_names and requirements is None
    result = Plan()
    for name in sorted(by_name):
        node = by_name[name]
        view = node_view(node)
        selected = everything or name in wanted_names or bool(
            requirements is not None and selector_matches(requirements, view["labels"]))
        if selected and state == "present":
            after = with_edge(view, labels, taints)
        elif selected or (params.get("exclusive") and state == "present"):
            after = without_edge(view, labels, taints)
        else:
            after = view
        result.changes.append(NodeChange(name, selected, view, after, node["metadata"].get("resourceVersion", "")))
        if state == "present" and is_edge(after, labels, taints):
            result.edge_nodes.append(name)
        if is_schedulable_worker(node, after):
            result.schedulable_workers.append(name)
    check_guards(result, params)
    return result


def check_guards(result: Plan, params: dict) -> None:
    """Refuse plans that would leave too few edge nodes or no room for ordinary workloads."""
    problems = []
    if params["state"] == "present" and len(result.edge_nodes) < params["min_edge_nodes"]:
        problems.append(f"only {len(result.edge_nodes)} edge node(s) would result "
                        f"({', '.join(result.edge_nodes) or 'none'}); at least {params['min_edge_nodes']} are "
                        f"needed (min_edge_nodes) so networking stays up when one is drained or replaced")
    if len(result.schedulable_workers) < params["min_schedulable_workers"]:
        problems.append(f"only {len(result.schedulable_workers)} node(s) would stay schedulable for ordinary "
                        f"workloads ({', '.join(result.schedulable_workers) or 'none'}); at least "
                        f"{params['min_schedulable_workers']} are required (min_schedulable_workers)")
    if not problems:
        return
    if params.get("force"):
        result.warnings.extend(f"force: {p}" for p in problems)
        return
    raise PlanError("; ".join(problems) + "; nothing was changed (set force=true to override)")


def patch_body(change: NodeChange) -> dict:
    """A JSON merge patch from before to after, guarded by the resourceVersion the plan was made from."""
    before, after = change.before, change.after
    labels = {k: v for k, v in after["labels"].items() if before["labels"].get(k) != v}
    labels.update({k: None for k in before["labels"] if k not in after["labels"]})
    body: dict = {"metadata": {"resourceVersion": change.resource_version}}
    if labels:
        body["metadata"]["labels"] = labels
    if before["taints"] != after["taints"]:
        body["spec"] = {"taints": after["taints"] or None}
    return body


def apply(kube, result: Plan, params: dict, taints: list[dict]) -> None:
    """PATCH each node that changes. On a conflict (someone else changed the node since the LIST) the node
    is read again and re-planned, a bounded number of times."""
    for change in result.to_patch:
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                kube.patch(f"/api/v1/nodes/{change.name}", patch_body(change))
                break
            except KubeError as exc:
                if exc.status != 409 or attempt == CONFLICT_RETRIES:
                    raise
                fresh = kube.get(f"/api/v1/nodes/{change.name}")
                view = node_view(fresh)
                change.before = view
                change.resource_version = fresh["metadata"]["resourceVersion"]
                if change.selected and params["state"] == "present":
                    change.after = with_edge(view, params.get("labels") or {}, taints)
                else:
                    change.after = without_edge(view, params.get("labels") or {}, taints)
                if not change.changed:
                    break


def run(kube, params: dict, check_mode: bool) -> dict:
    """Validate, LIST once, plan, and (unless check mode) patch. Returns the module result."""
    taints = validate(params)
    nodes = kube.get("/api/v1/nodes")["items"]
    result = plan(nodes, params, taints)
    if not check_mode:
        apply(kube, result, params, taints)
    changed_nodes = result.to_patch
    return {
        "changed": bool(changed_nodes),
        "nodes": [c.result() for c in result.changes if c.selected or c.changed],
        "edge_nodes": result.edge_nodes,
        "schedulable_workers": result.schedulable_workers,
        "warnings": result.warnings,
        "diff": {"before": {c.name: c.before for c in changed_nodes},
                 "after": {c.name: c.after for c in changed_nodes}},
        "api_calls": {"reads": kube.reads, "writes": kube.writes},
    }
