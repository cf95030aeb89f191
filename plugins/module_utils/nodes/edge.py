# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Edge-node planning: desired labels and taints -> the smallest set of node patches, with safety guards.

The plan is computed from one LIST of nodes.  Taints are matched on key and effect, as the kubelet and
scheduler do; a new value replaces the old one in place.  Labels and taints that the user did not name
are never touched.
"""

from __future__ import annotations

import copy
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.nodes import workloads as edge_workloads
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.errors import SecureClusterError
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import KubeError
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.labels import (
    LabelSelectorError, key_error, name_error, parse_selector, selector_matches, value_error)

# The edge marker, owned here: IKS's own label and taints (seed 001). Every module that places, finds or
# reports edge nodes defaults to it; playbooks override it with secure_cluster_edge_labels/_taints.
EDGE_LABELS = {"dedicated": "edge"}
EDGE_TAINTS = [{"key": "dedicated", "value": "edge", "effect": "NoSchedule"},
               {"key": "dedicated", "value": "edge", "effect": "NoExecute"}]
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# Taints that keep ordinary pods away from a node; PreferNoSchedule is only a preference.
BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")
# A node that conflicts is read again and re-planned, after a short pause that doubles each time.
CONFLICT_RETRIES = 5
CONFLICT_BACKOFF = 0.1
# Node PATCHes in flight at once: enough to hide latency, few enough to be gentle with the API server.
PARALLEL_PATCHES = 8


class PlanError(SecureClusterError):
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
    zones: dict[str, dict] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def to_patch(self) -> list[NodeChange]:
        return [c for c in self.changes if c.changed]


def param_errors(params: dict) -> list[str]:
    """Every problem with the input, before anything is read or written (all at once, so one run shows
    everything to fix)."""
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
    seen = set()
    removing = params.get("state") == "absent"
    for index, taint in enumerate(params.get("taints") or []):
        key, value, effect = taint.get("key"), taint.get("value"), taint.get("effect")
        where = f"taint #{index + 1} ('{taint_text(taint)}')"
        if key_error(key):
            errors.append(f"{where}: key {key_error(key)}")
        if value is not None and value_error(str(value)):
            errors.append(f"{where}: value {value_error(str(value))}")
        if effect is None and not removing:
            errors.append(f"{where}: an effect (one of {', '.join(EFFECTS)}) is needed to add a taint; only "
                          f"state=absent takes a key alone, and then removes that key's taints of every effect")
        elif effect is not None and effect not in EFFECTS:
            errors.append(f"{where}: effect '{effect}' is not one of {', '.join(EFFECTS)}")
        if (key, effect) in seen:
            errors.append(f"{where}: key '{key}' with effect '{effect}' is given twice; a node holds one taint "
                          f"per key and effect")
        seen.add((key, effect))
    if params.get("selector"):
        try:
            parse_selector(params["selector"])
        except LabelSelectorError as exc:
            errors.append(str(exc))
    if not (params.get("nodes") or params.get("selector") or params.get("per_zone")) and params["state"] == "present":
        errors.append("choose the edge nodes with 'nodes' (names), 'selector' (a label selector) or 'per_zone'")
    if params.get("workloads"):
        errors.extend(edge_workloads.param_errors({"workloads": params["workloads"], "edge_labels": {}}))
    for option in ("per_zone", "min_per_zone", "min_edge_nodes", "min_schedulable_workers"):
        if (params.get(option) or 0) < 0:
            errors.append(f"{option} must not be negative (got {params[option]})")
    return errors


def desired_taints(params: dict) -> list[dict]:
    """The taints to set, normalised (value as a string); with state=absent, removal patterns as for
    `kubectl taint nodes N key[:effect]-`, where what is left out (value, effect) matches anything."""
    if params.get("state") == "absent":
        return [{"key": t["key"], "value": None if t.get("value") is None else str(t["value"]), "effect": t.get("effect")}
                for t in params.get("taints") or []]
    return [{"key": t["key"], "value": str(t.get("value") or ""), "effect": t["effect"]}
            for t in params.get("taints") or []]


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
    after["taints"] = [t for t in after["taints"] if not any(taint_matches(pattern, t) for pattern in taints)]
    return after


def taint_matches(pattern: dict, taint: dict) -> bool:
    """Whether a removal pattern covers a node's taint.

    As `kubectl taint nodes N key-` and `key:effect-`: a pattern without an effect covers the key's taints of
    every effect. A pattern with a value covers only that value: a dedicated=gpu:NoSchedule taint is
    someone else's when the edge taints are dedicated=edge.
    """
    return (pattern["key"] == taint["key"]
            and pattern.get("effect") in (None, taint["effect"])
            and pattern.get("value") in (None, taint["value"]))


def taint_text(taint: dict) -> str:
    """A taint as kubectl writes it: key[=value][:effect]."""
    text = str(taint.get("key") or "")
    if taint.get("value") is not None:
        text += f"={taint['value']}"
    if taint.get("effect") is not None:
        text += f":{taint['effect']}"
    return text


def is_edge(view: dict, labels: dict, taints: list[dict]) -> bool:
    return with_edge(view, labels, taints) == view and bool(labels or taints)


def is_schedulable_worker(node: dict, view: dict) -> bool:
    """A node where an ordinary pod without tolerations can be scheduled."""
    if node.get("spec", {}).get("unschedulable"):
        return False
    return not any(t["effect"] in BLOCKING_EFFECTS for t in view["taints"])


ZONE_LABELS = ("ibm-cloud.kubernetes.io/zone", "topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")


def zone_of(labels: dict) -> str:
    """The node's zone from the IKS or the well-known topology label; '' when it has none."""
    return next((labels[key] for key in ZONE_LABELS if labels.get(key)), "")


def choose(nodes: dict[str, dict], params: dict, labels: dict, taints: list[dict]) -> set[str]:
    """Names of the nodes the request picks: by name, by selector, and N per zone."""
    state = params["state"]
    requirements = parse_selector(params["selector"]) if params.get("selector") else None
    chosen = set(params.get("nodes") or [])
    if requirements is not None and not params.get("per_zone"):
        chosen |= {name for name, node in nodes.items() if selector_matches(requirements, node_view(node)["labels"])}
    if params.get("per_zone"):
        chosen |= pick_per_zone(nodes, requirements, params["per_zone"], labels, taints)
    if state == "absent" and not chosen and requirements is None:
        # state=absent without a selection means: no node is an edge node any more.
        chosen = set(nodes)
    return chosen


def pick_per_zone(nodes: dict[str, dict], requirements, count: int, labels: dict, taints: list[dict]) -> set[str]:
    """Up to ``count`` candidates per zone: nodes that already are edge nodes first (no churn), then by name.

    Candidates are the nodes the selector matches (every node without a selector) that are not cordoned.
    """
    by_zone: dict[str, list[tuple[bool, str]]] = {}
    for name, node in nodes.items():
        view = node_view(node)
        if node.get("spec", {}).get("unschedulable"):
            continue
        if requirements is not None and not selector_matches(requirements, view["labels"]):
            continue
        by_zone.setdefault(zone_of(view["labels"]), []).append((not is_edge(view, labels, taints), name))
    return {candidate[1] for candidates in by_zone.values() for candidate in sorted(candidates)[:count]}


def plan(nodes: list[dict], params: dict, taints: list[dict]) -> Plan:
    """Work out the changes for every node, then enforce the guards; raises PlanError before any write."""
    by_name = {n["metadata"]["name"]: n for n in nodes}
    unknown = [name for name in params.get("nodes") or [] if name not in by_name]
    if unknown:
        raise PlanError(f"unknown node(s): {', '.join(sorted(unknown))}; the cluster has "
                        f"{len(by_name)} node(s): {', '.join(sorted(by_name)[:20])}")
    labels = params.get("labels") or {}
    state = params["state"]
    chosen = choose(by_name, params, labels, taints)
    result = Plan()
    for name in sorted(by_name):
        node = by_name[name]
        view = node_view(node)
        selected = name in chosen
        if selected and state == "present":
            after = with_edge(view, labels, taints)
        elif selected or (params.get("exclusive") and state == "present"):
            after = without_edge(view, labels, taints)
        else:
            after = view
        result.changes.append(NodeChange(name, selected, view, after, node["metadata"].get("resourceVersion", "")))
        zone = result.zones.setdefault(zone_of(view["labels"]), {"nodes": 0, "edge": 0})
        zone["nodes"] += 1
        if state == "present" and is_edge(after, labels, taints):
            result.edge_nodes.append(name)
            zone["edge"] += 1
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
    short = {zone or "(no zone label)": counts for zone, counts in sorted(result.zones.items())
             if counts["edge"] < params.get("min_per_zone", 0)}
    if params["state"] == "present" and short:
        problems.append("zones with too few edge nodes (at least " + str(params["min_per_zone"]) + " per zone, "
                        "min_per_zone): " + ", ".join(f"{zone} has {c['edge']} of {c['nodes']} node(s)"
                                                      for zone, c in short.items())
                        + "; IBM needs 2 edge nodes per zone for load balancers and 3 for ALBs")
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


def edge_tolerations(taints: list[dict]) -> list[dict]:
    """Tolerations of exactly these taints, for pods that belong on edge nodes."""
    return [{"key": t["key"], "operator": "Equal", "value": t.get("value") or "", "effect": t["effect"]}
            for t in taints]


def tolerates(tolerations: list[dict], taint: dict) -> bool:
    """Whether a pod with these tolerations tolerates the taint (the scheduler's rule)."""
    for toleration in tolerations or []:
        if toleration.get("effect") and toleration["effect"] != taint["effect"]:
            continue
        if not toleration.get("key"):
            if toleration.get("operator") == "Exists":
                return True
            continue
        if toleration["key"] != taint["key"]:
            continue
        if toleration.get("operator") == "Exists" or (toleration.get("value") or "") == taint["value"]:
            return True
    return False


_SUFFIXES = {"m": 0.001, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30,
             "Ti": 2**40}


def quantity(text) -> float:
    """A Kubernetes resource quantity ('250m', '1.5', '128Mi') as a number."""
    text = str(text or "0")
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[:-len(suffix)]) * _SUFFIXES[suffix]
    return float(text)


def pod_requests(pod: dict) -> dict[str, float]:
    totals = {"cpu": 0.0, "memory": 0.0}
    for container in pod.get("spec", {}).get("containers") or []:
        requests = (container.get("resources") or {}).get("requests") or {}
        for resource in totals:
            totals[resource] += quantity(requests.get(resource))
    return totals


def owner_kind(pod: dict) -> str:
    owners = pod["metadata"].get("ownerReferences") or []
    return owners[0]["kind"] if owners else ""


def new_noexecute_taints(change: NodeChange) -> list[dict]:
    before = {(t["key"], t["value"], t["effect"]) for t in change.before["taints"]}
    return [t for t in change.after["taints"]
            if t["effect"] == "NoExecute" and (t["key"], t["value"], t["effect"]) not in before]


def eviction_report(result: Plan, nodes: list[dict], pods: list[dict], daemonsets: list[dict],
                    taints: list[dict]) -> dict:
    """What the new NoExecute taints will evict, and whether the remaining workers have room for it.

    DaemonSet pods are not re-created elsewhere: they just leave the edge nodes (logging and monitoring
    agents typically), so they are listed but not counted against the room.
    """
    tainted = {c.name: new_noexecute_taints(c) for c in result.to_patch if new_noexecute_taints(c)}
    live = [p for p in pods if p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
            and not p["metadata"].get("deletionTimestamp")]
    evicted = [p for p in live if p["spec"].get("nodeName") in tainted and
               not all(tolerates(p["spec"].get("tolerations"), t) for t in tainted[p["spec"]["nodeName"]])]
    rescheduled = [p for p in evicted if owner_kind(p) != "DaemonSet"]
    edge_taints = [t for t in taints if t["effect"] in BLOCKING_EFFECTS]
    leaving = sorted(f"{d['metadata']['namespace']}/{d['metadata']['name']}" for d in daemonsets
                     if not all(tolerates(d["spec"]["template"]["spec"].get("tolerations"), t) for t in edge_taints))
    free = free_per_worker(nodes, live, set(result.schedulable_workers))
    total_free = {r: sum(room[r] for room in free.values()) for r in ("cpu", "memory")}
    needed = {r: sum(pod_requests(p)[r] for p in rescheduled) for r in ("cpu", "memory")}
    unplaceable = first_fit(rescheduled, free)
    return {
        "pods": [{"namespace": p["metadata"]["namespace"], "name": p["metadata"]["name"],
                  "node": p["spec"]["nodeName"], "owner": owner_kind(p) or "none"} for p in evicted],
        "daemonsets_leaving_edge_nodes": leaving,
        "requests_to_reschedule": {"cpu": round(needed["cpu"], 3), "memory": int(needed["memory"])},
        "free_on_other_workers": {"cpu": round(total_free["cpu"], 3), "memory": int(total_free["memory"])},
        "unplaceable": [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in unplaceable],
        "fits": not unplaceable,
    }


def free_per_worker(nodes: list[dict], pods: list[dict], workers: set[str]) -> dict[str, dict[str, float]]:
    """Allocatable minus the requests of the pods already there, for each remaining worker."""
    free = {}
    for node in nodes:
        if node["metadata"]["name"] in workers:
            allocatable = node.get("status", {}).get("allocatable") or {}
            free[node["metadata"]["name"]] = {r: quantity(allocatable.get(r)) for r in ("cpu", "memory")}
    for pod in pods:
        if pod["spec"].get("nodeName") in free:
            for resource, amount in pod_requests(pod).items():
                free[pod["spec"]["nodeName"]][resource] -= amount
    return free


def first_fit(pods: list[dict], free: dict[str, dict[str, float]]) -> list[dict]:
    """Place the pods, largest CPU request first, on the first worker with room; returns those that fit nowhere.

    A per-node check: four half-free nodes do not take a pod that needs a whole one.
    """
    unplaceable = []
    for pod in sorted(pods, key=lambda p: (pod_requests(p)["cpu"], pod_requests(p)["memory"]), reverse=True):
        wants = pod_requests(pod)
        for room in free.values():
            if all(room[r] >= wants[r] for r in wants):
                for resource in wants:
                    room[resource] -= wants[resource]
                break
        else:
            unplaceable.append(pod)
    return unplaceable


# --- whether the networking workloads can follow the edge marker (checked before any write) --------------

def expression_matches(expression: dict, labels: dict) -> bool:
    """One nodeSelectorRequirement against a node's labels (the scheduler's operators)."""
    key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    if operator in ("Gt", "Lt") and key in labels and values:
        try:
            return int(labels[key]) > int(values[0]) if operator == "Gt" else int(labels[key]) < int(values[0])
        except ValueError:
            return False
    return False


def term_matches(term: dict, labels: dict, name: str) -> bool:
    """A nodeSelectorTerm: every expression and field matches; an empty term matches no node."""
    expressions, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not expressions and not fields:
        return False
    return (all(expression_matches(e, labels) for e in expressions)
            and all(expression_matches(f, {"metadata.name": name}) for f in fields))


def node_affinity(spec: dict) -> dict:
    return (spec.get("affinity") or {}).get("nodeAffinity") or {}


def may_run_on(spec: dict, labels: dict, name: str, taints: list[dict]) -> bool:
    """Whether the pod's nodeSelector, required node affinity and tolerations let it run on the node."""
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = node_affinity(spec).get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    if required.get("nodeSelectorTerms") and not any(term_matches(t, labels, name) for t in required["nodeSelectorTerms"]):
        return False
    return all(tolerates(spec.get("tolerations"), t) for t in taints if t["effect"] in BLOCKING_EFFECTS)


def preference(spec: dict, labels: dict, name: str) -> int:
    """The weight the scheduler's node-affinity score gives the node for this pod."""
    return sum(p.get("weight") or 0 for p in node_affinity(spec).get("preferredDuringSchedulingIgnoredDuringExecution") or []
               if term_matches(p.get("preference") or {}, labels, name))


def workload_pods(kube, workloads: list[dict], all_pods: list[dict] | None) -> list[dict]:
    """The live pods of the workload entries: from the cluster-wide pod LIST when the run made one, else one
    LIST per entry (as the edge_workloads module reads them)."""
    compiled = edge_workloads.workloads_of({"workloads": workloads})
    if all_pods is None:
        return [p for w in compiled for p in edge_workloads.matching_pods(kube, w)]
    found = []
    for workload in compiled:
        requirements = parse_selector(workload["selector"]) if workload.get("selector") else None
        found.extend(p for p in all_pods if p["metadata"]["namespace"] == workload["namespace"]
                     and (requirements is None or selector_matches(requirements, p["metadata"].get("labels") or {}))
                     and edge_workloads.is_live(p, workload["pattern"]))
    return found


def owner_text(pod: dict) -> str:
    owners = pod["metadata"].get("ownerReferences") or []
    return f"{owners[0]['kind']} {owners[0]['name']}" if owners else "no owner"


def workload_placement(pods: list[dict], result: Plan, nodes: list[dict], labels: dict, taints: list[dict]) -> dict:
    """Which workload pods the move would evict, and which could not end up on the edge nodes.

    The move does not change a workload: it evicts the pods on other nodes and relies on their own spec. A pod
    follows the edge marker when it may run on an edge node once labelled and tainted (its nodeSelector and
    required affinity admit the new labels, its tolerations the edge taints) and, if it has to move, when its
    nodeSelector or node affinity keeps it off every other node (or, as IKS's ALBs do, prefers the edge nodes).
    """
    after = {c.name: c.after for c in result.changes}
    cordoned = {n["metadata"]["name"] for n in nodes if n.get("spec", {}).get("unschedulable")}
    chosen = {c.name for c in result.changes if c.selected}
    marker = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    to_move, cannot = [], {}
    for pod in pods:
        spec, here = pod["spec"], pod["spec"].get("nodeName")
        edge_ok = [n for n in sorted(chosen) if may_run_on(spec, after[n]["labels"], n, after[n]["taints"])]
        problems = []
        if not edge_ok:
            lacking = sorted({taint_text(t) for n in chosen for t in after[n]["taints"]
                              if t["effect"] in BLOCKING_EFFECTS and not tolerates(spec.get("tolerations"), t)})
            problems.append(f"does not tolerate {', '.join(lacking)}" if lacking else
                            f"its nodeSelector or required node affinity admits none of the edge nodes ({marker})")
        if here not in chosen:
            to_move.append({"namespace": pod["metadata"]["namespace"], "name": pod["metadata"]["name"],
                            "node": here or ""})
            elsewhere = [n for n in sorted(after) if n not in chosen and n not in cordoned
                         and may_run_on(spec, after[n]["labels"], n, after[n]["taints"])]
            best_edge = max((preference(spec, after[n]["labels"], n) for n in edge_ok), default=0)
            if elsewhere and edge_ok and best_edge <= max(preference(spec, after[n]["labels"], n) for n in elsewhere):
                problems.append(f"has no nodeSelector or node affinity for the edge label {marker}, so once "
                                f"evicted it may be scheduled on any node (for example {elsewhere[0]})")
        if problems:
            key = (pod["metadata"]["namespace"], owner_text(pod), "; ".join(problems))
            cannot.setdefault(key, []).append(pod["metadata"]["name"])
    return {"to_move": to_move, "cannot_follow": [
        {"namespace": ns, "owner": owner, "pods": sorted(names), "problem": problem}
        for (ns, owner, problem), names in sorted(cannot.items())]}


def check_placement(placement: dict, labels: dict, taints: list[dict]) -> None:
    if not placement["cannot_follow"]:
        return
    marker = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    raise PlanError(
        "these networking workloads (edge_nodes_workloads) cannot follow the edge marker (label " + marker
        + ", taints " + (", ".join(taint_text(t) for t in taints) or "none") + "): "
        + "; ".join(f"{c['namespace']}/{', '.join(c['pods'])} ({c['owner']}) {c['problem']}"
                    for c in placement["cannot_follow"])
        + ". Moving them does not change a workload, it evicts its pods and relies on their own tolerations and "
        "node affinity. Fix one of: use the default edge marker (unset secure_cluster_edge_labels and "
        "secure_cluster_edge_taints: dedicated=edge, which IKS's ALBs and load balancers tolerate and prefer); "
        "give these workloads tolerations of the edge taints and a node affinity (or nodeSelector) for the edge "
        "label (IKS reconciles its own ALB Deployments, so not for those); or leave them out of "
        "edge_nodes_workloads (the module's workloads); nothing was changed")


def check_room(report: dict, result: Plan, params: dict) -> None:
    if report["fits"]:
        return
    problem = (f"no remaining worker has room for {', '.join(report['unplaceable'])}, which the NoExecute taint "
               f"would evict (requests to re-schedule: {report['requests_to_reschedule']}; free on the remaining "
               f"workers in all: {report['free_on_other_workers']})")
    if params.get("force"):
        result.warnings.append(f"force: {problem}")
        return
    raise PlanError(problem + "; nothing was changed (add workers, or set force=true)")


def patch_body(change: NodeChange) -> dict:
    """A JSON merge patch from before to after. The taint list is replaced whole, so a patch that changes it is
    guarded by the resourceVersion the plan was made from; labels merge key by key and need no guard (a node
    that controllers or kubelets update meanwhile then costs no conflict)."""
    before, after = change.before, change.after
    labels = {k: v for k, v in after["labels"].items() if before["labels"].get(k) != v}
    labels.update({k: None for k in before["labels"] if k not in after["labels"]})
    body: dict = {"metadata": {}}
    if labels:
        body["metadata"]["labels"] = labels
    if before["taints"] != after["taints"]:
        body["metadata"]["resourceVersion"] = change.resource_version
        body["spec"] = {"taints": after["taints"] or None}
    return body


def apply(kube, result: Plan, params: dict, taints: list[dict]) -> None:
    """PATCH every node that changes, several at a time (each node is one independent request)."""
    changes = result.to_patch
    if not changes:
        return
    with ThreadPoolExecutor(max_workers=min(PARALLEL_PATCHES, len(changes))) as pool:
        for future in [pool.submit(patch_node, kube, change, params, taints) for change in changes]:
            future.result()


def patch_node(kube, change: NodeChange, params: dict, taints: list[dict]) -> None:
    """PATCH one node. On a conflict (someone changed the node since the LIST) read it again and re-plan,
    a bounded number of times."""
    for attempt in range(CONFLICT_RETRIES + 1):
        try:
            kube.patch(f"/api/v1/nodes/{change.name}", patch_body(change), retry_conflict=False)
            return
        except KubeError as exc:
            if exc.status != 409 or attempt == CONFLICT_RETRIES:
                raise
            time.sleep(CONFLICT_BACKOFF * 2 ** attempt)
        fresh = kube.get(f"/api/v1/nodes/{change.name}")
        change.before = node_view(fresh)
        change.resource_version = fresh["metadata"]["resourceVersion"]
        labels = params.get("labels") or {}
        if change.selected and params["state"] == "present":
            change.after = with_edge(change.before, labels, taints)
        else:
            change.after = without_edge(change.before, labels, taints)
        if not change.changed:
            return


def run(run) -> dict:
    """LIST once, plan, and (unless check mode) patch. Returns the module result."""
    kube, params, check_mode = run.kube, run.params, run.check_mode
    taints = desired_taints(params)
    nodes = kube.get("/api/v1/nodes")["items"]
    result = plan(nodes, params, taints)
    report, all_pods, placement = None, None, None
    if params.get("eviction_check") and any(new_noexecute_taints(c) for c in result.to_patch):
        all_pods = kube.get("/api/v1/pods")["items"]
        report = eviction_report(result, nodes, all_pods, kube.get("/apis/apps/v1/daemonsets")["items"], taints)
        check_room(report, result, params)
    if params.get("workloads") and params["state"] == "present":
        labels = params.get("labels") or {}
        placement = workload_placement(workload_pods(kube, params["workloads"], all_pods), result, nodes, labels,
                                       taints)
        check_placement(placement, labels, taints)
    if not check_mode:
        apply(kube, result, params, taints)
    changed_nodes = result.to_patch
    return {
        "changed": bool(changed_nodes),
        "nodes": [c.result() for c in result.changes if c.selected or c.changed],
        "edge_nodes": result.edge_nodes,
        "schedulable_workers": result.schedulable_workers,
        "zones": result.zones,
        "evictions": report,
        "workloads": placement,
        "warnings": result.warnings,
        "diff": {"before": {c.name: c.before for c in changed_nodes},
                 "after": {c.name: c.after for c in changed_nodes}},
    }
