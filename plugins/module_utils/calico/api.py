# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The api backend: Calico resources read and written as crd.projectcalico.org/v1 objects through the
Kubernetes API, exactly as calicoctl stores them; one LIST per kind and namespace when several are read.

Planning and writing (:func:`plan`, :func:`execute`) work on either backend's seam (:class:`Api` here,
``calicoctl.Calicoctl`` beside it): ``read``, ``store``, ``remove``, ``cluster_information`` and
``felix_configuration``."""

from __future__ import annotations

import json
import time

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.calicoctl import CalicoctlError
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.resources import (
    CRD, KINDS, METADATA_ANNOTATION, CalicoError, crd_path, from_crd, same, storage_name, to_crd, with_defaults)
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import KubeError


class Api:
    """The api backend's seam (the calicoctl backend offers the same): Calico read and written through a
    Kubernetes client."""

    name = "api"
    datastore = "kubernetes"

    def __init__(self, kube):
        self.kube = kube

    def cluster_information(self) -> dict:
        return cluster_information(self.kube)

    def read(self, kind: str, namespace: str | None, names=None) -> list[dict]:
        """The stored objects: one GET for a single name, else one LIST of the kind in the namespace (every
        namespace for a namespaced kind without one)."""
        if names and len(names) == 1:
            obj = self.kube.get_or_none(crd_path(kind, namespace, names[0]))
            return [obj] if obj else []
        path = crd_path(kind, namespace) if namespace or not KINDS[kind][1] else f"/apis/{CRD}/{KINDS[kind][0]}"
        return self.kube.request("GET", path).get("items") or []

    def felix_configuration(self) -> dict:
        return (self.kube.get_or_none(f"/apis/{CRD}/felixconfigurations/default") or {}).get("spec") or {}

    def store(self, desired: dict, given: dict, stored: dict | None) -> None:
        """Create or replace one resource as calicoctl stores it (creationTimestamp kept on replace)."""
        kind, meta = desired["kind"], desired["metadata"]
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if stored is not None:
            created = json.loads((stored["metadata"].get("annotations") or {}).get(METADATA_ANNOTATION)
                                 or "{}").get("creationTimestamp") or created
        body = to_crd(desired, created)
        if stored is None:
            self.kube.request("POST", crd_path(kind, meta.get("namespace")), body=body)
        else:
            body["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"]
            self.kube.request("PUT", crd_path(kind, meta.get("namespace"), meta["name"]), body=body,
                              retry_conflict=False)

    def remove(self, desired: dict) -> None:
        meta = desired["metadata"]
        try:
            self.kube.request("DELETE", crd_path(desired["kind"], meta.get("namespace"), meta["name"]))
        except KubeError as exc:
            if exc.status != 404:
                raise


def read_live(backend, resources: list[dict], whole_kinds=()) -> dict:
    """The stored objects, keyed by (kind, namespace, storage name): one read per kind and namespace."""
    groups: dict = {}
    for resource in resources:
        meta = resource["metadata"]
        groups.setdefault((resource["kind"], meta.get("namespace")), []).append(meta["name"])
    for kind in whole_kinds:
        groups.setdefault((kind, None), [])
    live = {}
    for (kind, namespace), names in groups.items():
        for obj in backend.read(kind, namespace, None if kind in whole_kinds else names):
            obj.setdefault("kind", kind)
            live[(kind, obj["metadata"].get("namespace"), obj["metadata"]["name"])] = obj
    return live


def key_of(resource: dict) -> tuple:
    meta = resource["metadata"]
    return (resource["kind"], meta.get("namespace"), storage_name(resource["kind"], meta["name"]))


def plan(backend, resources: list[dict], state: str, whole_kinds=()) -> tuple[list[dict], dict]:
    """Each resource with its stored object and whether it must change; plus everything read."""
    live = read_live(backend, resources, whole_kinds)
    steps = []
    for resource in resources:
        desired = with_defaults(resource)
        stored = live.get(key_of(desired))
        before = from_crd(stored) if stored else None
        if state == "absent":
            changed = stored is not None
        else:
            changed = stored is None or not same(desired, before)
        steps.append({"desired": desired, "given": resource, "stored": stored, "before": before, "changed": changed})
    return steps, live


class PartialFailure(CalicoError):
    """A write failed after others succeeded; ``results`` says what was done, so it can be undone."""

    def __init__(self, message: str, results: list[dict]):
        super().__init__(message, {"changed": True, "resources": results})
        self.results = results


def execute(backend, steps: list[dict], state: str, check_mode: bool) -> list[dict]:
    results: list[dict] = []
    try:
        write_each(backend, steps, state, check_mode, results)
    except (KubeError, CalicoctlError) as exc:
        done = [f"{r['kind']} {r['name']}" for r in results if r["changed"]]
        raise PartialFailure(f"{exc} (already {'deleted' if state == 'absent' else 'written'} by this run: "
                             f"{', '.join(done) or 'nothing'})", results) from None
    return results


def write_each(backend, steps: list[dict], state: str, check_mode: bool, results: list[dict]) -> None:
    for step in steps:
        desired, stored, before = step["desired"], step["stored"], step["before"]
        if state == "absent":
            if step["changed"] and not check_mode:
                backend.remove(desired)
            results.append(result(desired, step["changed"], before, None))
            continue
        if not step["changed"]:
            results.append(result(desired, False, before, before))
            continue
        if not check_mode:
            backend.store(desired, step.get("given") or desired, stored)
        results.append(result(desired, True, before, desired))


def cluster_information(kube) -> dict:
    """Calico's version and datastore state from ClusterInformation ``default`` (written by calico-node)."""
    info = kube.get_or_none(f"/apis/{CRD}/clusterinformations/default")
    if info is None:
        if kube.get_or_none(f"/apis/{CRD}") is None:
            raise CalicoError(
                f"the API group {CRD} is not served, so Calico's Kubernetes datastore is not in this cluster: "
                f"either Calico is not installed, or it keeps its data in etcd (datastore type etcdv3, as in "
                f"IKS clusters whose `ibmcloud ks cluster config --network` downloads a calicoctl.cfg with "
                f"etcdEndpoints). The api backend writes through the Kubernetes API and cannot reach an etcd "
                f"datastore; use the calicoctl backend with that calicoctl.cfg instead (backend: calicoctl, "
                f"calicoctl_config: <path to calicoctl.cfg>)")
        return {"version": "", "cluster_type": "", "datastore_ready": None,
                "note": "no ClusterInformation 'default' yet: calico-node has not started in this cluster"}
    spec = info.get("spec") or {}
    return {"version": spec.get("calicoVersion") or "", "cluster_type": spec.get("clusterType") or "",
            "datastore_ready": spec.get("datastoreReady")}


def result(desired: dict, changed: bool, before, after) -> dict:
    meta = desired["metadata"]
    return {"kind": desired["kind"], "name": meta["name"], "namespace": meta.get("namespace", ""),
            "changed": changed, "before": before, "after": after}
