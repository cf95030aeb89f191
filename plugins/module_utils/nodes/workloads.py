# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Re-place networking workloads (ALBs, load-balancer keepalived pods) onto edge nodes.

Labelling nodes does not move pods that already run elsewhere. Each pod found on a non-edge node is
evicted through the Eviction API (so PodDisruptionBudgets are honoured), one at a time, and the next one
waits until its owner has as many ready pods as before.
"""

from __future__ import annotations

import re
import time

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.errors import SecureClusterError
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import KubeError
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.labels import (
    LabelSelectorError, key_error, name_error, parse_selector, value_error)


class PlacementError(SecureClusterError):
    """Input that cannot be used, or pods that could not be moved; the message says which."""


def param_errors(params: dict) -> list[str]:
    """Every problem with the workloads, nodes and edge labels, before anything is read."""
    errors = []
    for index, entry in enumerate(params["workloads"]):
        where = f"workloads[{index}]"
        if name_error(entry.get("namespace") or ""):
            errors.append(f"{where}: namespace '{entry.get('namespace')}' {name_error(entry.get('namespace') or '')}")
        if entry.get("name_regex"):
            try:
                re.compile(entry["name_regex"])
            except re.error as exc:
                errors.append(f"{where}: name_regex '{entry['name_regex']}' is not a valid regular expression: {exc}")
        if entry.get("selector"):
            try:
                parse_selector(entry["selector"])
            except LabelSelectorError as exc:
                errors.append(f"{where}: {exc}")
        if not entry.get("selector") and not entry.get("name_regex"):
            errors.append(f"{where}: give a 'selector' and/or a 'name_regex' so only networking pods are moved")
    for name in params.get("nodes") or []:
        if name_error(name):
            errors.append(f"node name '{name}' {name_error(name)}")
    for key, value in params["edge_labels"].items():
        if key_error(key) or value_error(str(value)):
            errors.append(f"edge label '{key}={value}' is not a valid label")
    return errors


def workloads_of(params: dict) -> list[dict]:
    """The workload entries with their name patterns compiled."""
    return [{**entry, "pattern": re.compile(entry["name_regex"]) if entry.get("name_regex") else None}
            for entry in params["workloads"]]


def edge_node_names(kube, edge_labels: dict) -> set[str]:
    selector = ",".join(f"{k}={v}" for k, v in sorted(edge_labels.items()))
    return {n["metadata"]["name"] for n in kube.get("/api/v1/nodes", {"labelSelector": selector})["items"]}


def matching_pods(kube, workload: dict) -> list[dict]:
    """Live pods of one workload entry (one LIST per entry)."""
    query = {"labelSelector": workload.get("selector") or None}
    pods = kube.get(f"/api/v1/namespaces/{workload['namespace']}/pods", query)["items"]
    return [p for p in pods if is_live(p, workload["pattern"])]


def is_live(pod: dict, pattern) -> bool:
    """A pod of the workload (name pattern) that is not going away."""
    return (not pod["metadata"].get("deletionTimestamp") and pod.get("status", {}).get("phase") in ("Pending", "Running")
            and (pattern is None or bool(pattern.search(pod["metadata"]["name"]))))


def misplaced(kube, workloads: list[dict], edge: set[str]) -> list[dict]:
    return [p for w in workloads for p in matching_pods(kube, w) if p["spec"].get("nodeName") not in edge]


def describe(pod: dict) -> dict:
    return {"namespace": pod["metadata"]["namespace"], "name": pod["metadata"]["name"],
            "node": pod["spec"].get("nodeName") or ""}


def owner_uid(pod: dict) -> str:
    owners = pod["metadata"].get("ownerReferences") or []
    return owners[0]["uid"] if owners else ""


def ready_pods_of_owner(kube, namespace: str, uid: str) -> list[dict]:
    pods = kube.get(f"/api/v1/namespaces/{namespace}/pods")["items"]
    return [p for p in pods if owner_uid(p) == uid and not p["metadata"].get("deletionTimestamp")
            and any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions") or [])]


def evict_and_wait(kube, pod: dict, timeout: float, interval: float = 1.0) -> None:
    """Evict one pod and wait until its owner is back to the ready count it had before."""
    namespace, name, uid = pod["metadata"]["namespace"], pod["metadata"]["name"], owner_uid(pod)
    before = len(ready_pods_of_owner(kube, namespace, uid)) if uid else 0
    kube.request("POST", f"/api/v1/namespaces/{namespace}/pods/{name}/eviction", body={
        "apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}})
    if not uid:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = ready_pods_of_owner(kube, namespace, uid)
        if len(ready) >= before and name not in {p["metadata"]["name"] for p in ready}:
            return
        time.sleep(interval)
    raise PlacementError(f"pod {namespace}/{name} was evicted but its owner did not get back to {before} ready "
                         f"pod(s) within {timeout:.0f}s; check that the edge nodes have room and that the "
                         f"workload tolerates the edge taints")


def run(run) -> dict:
    """Move the networking pods that run elsewhere onto the edge nodes, one at a time."""
    kube, params, check_mode = run.kube, run.params, run.check_mode
    workloads = workloads_of(params)
    edge = set(params["nodes"]) if params.get("nodes") else edge_node_names(kube, params["edge_labels"])
    if not edge:
        raise PlacementError("no node carries the edge labels " + ", ".join(
            f"{k}={v}" for k, v in params["edge_labels"].items()) + "; label the edge nodes first")
    to_move = misplaced(kube, workloads, edge)
    moved = []
    if not check_mode:
        for pod in to_move:
            try:
                evict_and_wait(kube, pod, params["timeout"])
            except KubeError as exc:
                raise PlacementError(f"evicting {pod['metadata']['namespace']}/{pod['metadata']['name']}: {exc}") from None
            moved.append(describe(pod))
        left = misplaced(kube, workloads, edge)
        if left:
            raise PlacementError(
                "still on non-edge nodes after re-placement: " + ", ".join(
                    f"{p['metadata']['namespace']}/{p['metadata']['name']} on {p['spec'].get('nodeName')}" for p in left)
                + "; these workloads need a node affinity (or nodeSelector) for the edge label and the edge tolerations")
    return {"changed": bool(to_move), "moved": moved if not check_mode else [describe(p) for p in to_move],
            "edge_nodes": sorted(edge)}
