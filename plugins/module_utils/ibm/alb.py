# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Application load balancers (ALBs): list, enable, disable, wait, with the lock-out guard.

Two backends behind one shape ``{id, type, zone, enabled, state, status, instances}``:
``iks`` (IBM Cloud Kubernetes Service API) and ``kubernetes`` (an ALB is an ingress-controller Deployment;
enable scales it to ``replicas``, disable to 0).
"""

from __future__ import annotations

import re
import time

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.ibm import iks
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import AUTH_ARG_SPEC
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.errors import SecureClusterError
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.labels import (
    LabelSelectorError, parse_selector)

ALB_ID = re.compile(r"^(public|private)-[a-z0-9]+-alb[0-9]+$")
TYPE_LABEL = "ingress.cloud.ibm.com/alb-type"
ZONE_LABELS = ("ingress.cloud.ibm.com/zone", "topology.kubernetes.io/zone")


class AlbError(SecureClusterError):
    """A request that cannot be carried out (bad input, guard, timeout); the message says why."""


class IksBackend:
    def __init__(self, params: dict):
        self.cluster, self.platform = params["cluster"], params["platform"]
        if not self.cluster:
            raise AlbError("backend iks needs 'cluster' (name or ID), or IKS_CLUSTER")
        self.client = iks.client_of(params)

    def list(self) -> list[dict]:
        return [{"id": a["albID"], "type": a.get("albType", ""), "zone": a.get("zone", ""),
                 "enabled": bool(a.get("enable")), "state": a.get("state", ""), "status": a.get("status", ""),
                 "instances": int(a.get("numOfInstances") or 0)}
                for a in iks.list_albs(self.client, self.cluster, self.platform)]

    def set(self, alb: dict, enable: bool, replicas: int | None) -> None:
        # An enabled classic ALB changes size only when asked to resize (v1 ALBConfig 'resize').
        resize = bool(enable and alb["enabled"] and replicas and alb["instances"] != replicas)
        iks.set_alb(self.client, self.cluster, self.platform, alb["id"], enable, replicas, resize)


class KubernetesBackend:
    def __init__(self, kube, params: dict):
        self.kube, self.namespace = kube, params["namespace"]
        self.selector = params["alb_selector"]

    def list(self) -> list[dict]:
        deployments = self.kube.get(f"/apis/apps/v1/namespaces/{self.namespace}/deployments",
                                    {"labelSelector": self.selector})["items"]
        return [self.describe(d) for d in deployments]

    @staticmethod
    def describe(deployment: dict) -> dict:
        labels = deployment["metadata"].get("labels") or {}
        name = deployment["metadata"]["name"]
        wanted = deployment["spec"].get("replicas") or 0
        status = deployment.get("status") or {}
        ready, current = status.get("readyReplicas") or 0, status.get("replicas") or 0
        if wanted == 0:
            state = "disabled" if current == 0 else "pending"
        else:
            state = "enabled" if ready >= wanted and current == wanted else "pending"
        health = {"enabled": "healthy", "disabled": "disabled"}.get(state, "pending")
        return {"id": name, "type": labels.get(TYPE_LABEL) or name.split("-", 1)[0],
                "zone": next((labels[k] for k in ZONE_LABELS if labels.get(k)), ""),
                "enabled": wanted > 0, "state": state, "status": health, "instances": wanted}

    def set(self, alb: dict, enable: bool, replicas: int | None) -> None:
        count = (replicas or alb["instances"] or 2) if enable else 0
        self.kube.patch(f"/apis/apps/v1/namespaces/{self.namespace}/deployments/{alb['id']}",
                        {"spec": {"replicas": count}})


def param_errors(params: dict) -> list[str]:
    """Every problem with the request, before any call."""
    errors = []
    for alb_id in params.get("alb_ids") or []:
        if params["backend"] == "iks" and not ALB_ID.match(alb_id):
            errors.append(f"ALB ID '{alb_id}' does not look like an IKS ALB ID such as "
                          f"'private-cr1a2b3c4d5e6f-alb1'")
    if params.get("replicas") is not None and params["replicas"] < 1:
        errors.append(f"replicas {params['replicas']} must be at least 1 (disable an ALB with state=disabled)")
    if params.get("replicas") and params["backend"] == "iks" and params.get("platform") == "vpc":
        errors.append(f"replicas {params['replicas']} cannot be set on a VPC cluster: the IKS v2 ALB API "
                      f"(enableAlb) has no resize; leave 'replicas' unset, or size VPC ALBs with IKS ALB "
                      f"autoscaling ('ibmcloud ks ingress alb autoscale set')")
    if params.get("state") in ("enabled", "disabled") and not params.get("alb_ids") and not params.get("type"):
        errors.append("choose the ALBs with 'alb_ids' or 'type' (public/private, optionally with 'zone')")
    if params["backend"] == "kubernetes":
        try:
            parse_selector(params["alb_selector"])
        except LabelSelectorError as exc:
            errors.append(str(exc))
    return errors


def select(albs: list[dict], params: dict) -> list[dict]:
    """The ALBs the request names: by ID (unknown IDs are an error) or by type and zone."""
    by_id = {a["id"]: a for a in albs}
    if params.get("alb_ids"):
        unknown = [i for i in params["alb_ids"] if i not in by_id]
        if unknown:
            raise AlbError(f"unknown ALB ID(s) {', '.join(unknown)}; the cluster has: {', '.join(sorted(by_id)) or 'none'}")
        return [by_id[i] for i in params["alb_ids"]]
    return [a for a in albs if (not params.get("type") or a["type"] == params["type"])
            and (not params.get("zone") or a["zone"] == params["zone"])]


def check_last_enabled(albs: list[dict], targets: list[dict], enable: bool, force: bool) -> None:
    if enable or force:
        return
    remaining = [a for a in albs if a["enabled"] and a["id"] not in {t["id"] for t in targets}]
    if not remaining:
        raise AlbError(f"refusing to disable {', '.join(t['id'] for t in targets)}: no other ALB is enabled, so the "
                       f"cluster's Ingress traffic would stop; enable another ALB first or set force=true")


def reached(alb: dict, enable: bool, replicas: int | None = None) -> bool:
    """Done as IKS and Terraform judge it: ``enable`` and state ``enabled`` (with the requested number of
    instances), or not ``enable`` and state ``disabled``. The status (healthy, enabled, warning, ...) is
    reported, not required: IBM documents enabled private ALBs with status ``enabled``."""
    if enable:
        return alb["enabled"] and alb["state"] == "enabled" and (not replicas or alb["instances"] == replicas)
    return not alb["enabled"] and alb["state"] == "disabled"


def wait(backend, ids: set[str], enable: bool, timeout: float, interval: float,
         replicas: int | None = None) -> list[dict]:
    """Poll until every ALB in ``ids`` reached the desired state; the ALBs as last seen. An ALB that reports
    status ``critical`` while being enabled fails the wait at once."""
    deadline = time.monotonic() + timeout
    while True:
        albs = backend.list()
        critical = [a for a in albs if a["id"] in ids and enable and a["enabled"] and a["status"] == "critical"]
        if critical:
            raise AlbError("; ".join(f"ALB {a['id']} reports status critical (state={a['state']}): it does not "
                                     f"serve traffic; see 'ibmcloud ks ingress status-report get' for the cause"
                                     for a in critical))
        pending = [a for a in albs if a["id"] in ids and not reached(a, enable, replicas)]
        if not pending:
            return albs
        if time.monotonic() > deadline:
            wanted = "enabled" + (f" with {replicas} instances" if replicas else "") if enable else "disabled"
            raise AlbError("timed out after %ds waiting for %s to be %s: %s" % (
                timeout, ", ".join(sorted(ids)), wanted,
                "; ".join(f"{a['id']} state={a['state']} status={a['status']} enabled={a['enabled']} "
                          f"instances={a['instances']}" for a in pending)))
        time.sleep(interval)


def run_albs(backend, params: dict, check_mode: bool) -> dict:
    """List, select, guard, change what differs, wait. Returns the module result."""
    albs = backend.list()
    if params["state"] == "info":
        return {"changed": False, "albs": select(albs, params) if params.get("alb_ids") or params.get("type")
                else albs}
    enable = params["state"] == "enabled"
    targets = select(albs, params)
    if not targets:
        raise AlbError(f"no {params.get('type') or ''} ALB{' in zone ' + params['zone'] if params.get('zone') else ''} "
                       f"found; the cluster has: {', '.join(a['id'] for a in albs) or 'none'}")
    check_last_enabled(albs, targets, enable, params.get("force", False))
    to_change = [a for a in targets if a["enabled"] != enable or (
        enable and params.get("replicas") and a["instances"] != params["replicas"])]
    if not check_mode:
        for alb in to_change:
            backend.set(alb, enable, params.get("replicas"))
        if params.get("wait"):
            albs = wait(backend, {a["id"] for a in targets}, enable, params["wait_timeout"], params["poll_interval"],
                        params.get("replicas") if enable else None)
    sized = bool(enable and params.get("replicas"))
    before = {a["id"]: {"enabled": a["enabled"], "state": a["state"], **({"instances": a["instances"]} if sized
                                                                         else {})} for a in to_change}
    after = {a["id"]: {"enabled": enable, "state": "enabled" if enable else "disabled",
                       **({"instances": params["replicas"]} if sized else {})} for a in to_change}
    return {"changed": bool(to_change), "changed_albs": [a["id"] for a in to_change], "albs": albs,
            "diff": {"before": before, "after": after}}


# --- the alb and alb_info modules --------------------------------------------------------------

INFO_ARG_SPEC = {
    **AUTH_ARG_SPEC,
    **iks.IKS_ARG_SPEC,
    "backend": {"type": "str", "choices": ["iks", "kubernetes"], "default": "iks"},
    "alb_ids": {"type": "list", "elements": "str"},
    "type": {"type": "str", "choices": ["public", "private"]},
    "zone": {"type": "str"},
    "namespace": {"type": "str", "default": "kube-system"},
    "alb_selector": {"type": "str", "default": "ingress.cloud.ibm.com/alb-id"},
}
ALB_ARG_SPEC = {
    **INFO_ARG_SPEC,
    "state": {"type": "str", "choices": ["enabled", "disabled"], "required": True},
    "replicas": {"type": "int"},
    "force": {"type": "bool", "default": False},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int", "default": 600},
    "poll_interval": {"type": "float", "default": 5},
}


def make_backend(run):
    """The backend the module's ``backend`` names, its API calls counted in the result."""
    if run.params["backend"] == "iks":
        backend = IksBackend(run.params)
        run.counted(backend.client)
        return backend
    return KubernetesBackend(run.kube, run.params)


def change(run) -> dict:
    """The alb module."""
    return run_albs(make_backend(run), run.params, run.check_mode)


def info(run) -> dict:
    """The alb_info module: the ALBs, selected by alb_ids or type and zone when given."""
    return run_albs(make_backend(run), {**run.params, "state": "info"}, check_mode=True)
