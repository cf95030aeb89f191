# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applying whole Kubernetes objects (the k8s_apply module, and the objects strongswan_vpn renders).

Any kind the cluster serves: built-in kinds by a table, others by API discovery cached per run. An object is
read first and written with server-side apply only when it differs, so re-runs write nothing.
"""

from __future__ import annotations

import time

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.errors import raise_if
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import Kube, KubeError, contains


def run(run) -> dict:
    """The k8s_apply module: check every kind and scope (reads only), then apply or delete."""
    params, kube = run.params, run.kube
    definitions = params["definitions"]
    raise_if(scope_errors(kube, definitions))
    return ensure_objects(kube, definitions, params["state"], run.check_mode, params["field_manager"],
                          params["wait_timeout"])


KNOWN = {  # (apiVersion, kind) -> (plural, namespaced): built-in kinds, so they need no discovery
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "Service"): ("services", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("apps/v1", "DaemonSet"): ("daemonsets", True),
    ("rbac.authorization.k8s.io/v1", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("rolebindings", True),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("networkpolicies", True),
    ("networking.k8s.io/v1", "Ingress"): ("ingresses", True),
    ("crd.projectcalico.org/v1", "KubeControllersConfiguration"): ("kubecontrollersconfigurations", False),
}


def info(run) -> dict:
    """The k8s_info module: one object of any served kind by name, or none when it does not exist."""
    params, kube = run.params, run.kube
    ref = {"apiVersion": params["api_version"], "kind": params["kind"],
           "metadata": {"name": params["name"], "namespace": params["namespace"]}}
    if resource_of(kube, ref["apiVersion"], ref["kind"])[1] and not params["namespace"]:
        raise KubeError(f"{ref['kind']} {params['name']} is namespaced: give its namespace")
    live = kube.get_or_none(object_path(kube, ref))
    return {"resources": [live] if live is not None else []}


def resource_of(kube: Kube, api_version: str, kind: str) -> tuple[str, bool]:
    """(plural, namespaced) of a kind: built-in kinds from KNOWN, any other from API discovery (one GET per
    group/version, cached on the connection for the rest of the run)."""
    if (api_version, kind) in KNOWN:
        return KNOWN[(api_version, kind)]
    cache = kube.discovered
    if api_version not in cache:
        listing = kube.get_or_none("/api/v1" if api_version == "v1" else f"/apis/{api_version}")
        cache[api_version] = {r["kind"]: (r["name"], bool(r.get("namespaced")))
                              for r in (listing or {}).get("resources") or [] if "/" not in r["name"]}
    served = cache[api_version]
    if kind not in served:
        known = ", ".join(sorted(served)) or "none: the API group/version is not served"
        raise KubeError(f"{kind} ({api_version}) is not served by this cluster (kinds served in {api_version}: {known})")
    return served[kind]


def object_path(kube: Kube, obj: dict, named: bool = True) -> str:
    """REST path of an object (or of its collection with named=False)."""
    api_version, kind = obj["apiVersion"], obj["kind"]
    plural, namespaced = resource_of(kube, api_version, kind)
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    scope = f"/namespaces/{obj['metadata']['namespace']}" if namespaced else ""
    name = f"/{obj['metadata']['name']}" if named else ""
    return f"{prefix}{scope}/{plural}{name}"


def param_errors(params: dict) -> list[str]:
    """What is missing from the definitions, before anything is read."""
    errors = []
    definitions = params["definitions"]
    for index, obj in enumerate(definitions):
        where = f"definitions[{index}]"
        if not isinstance(obj, dict):
            errors.append(f"{where}: must be a mapping (a Kubernetes object)")
            continue
        for field in ("apiVersion", "kind"):
            if not isinstance(obj.get(field), str) or not obj.get(field):
                errors.append(f"{where}: {field} is required")
        if not (obj.get("metadata") or {}).get("name"):
            errors.append(f"{where}: metadata.name is required")
    return errors


def scope_errors(kube: Kube, definitions: list[dict]) -> list[str]:
    """Kinds the cluster does not serve, and namespaced kinds without a namespace (reads only, no write)."""
    errors = []
    for index, obj in enumerate(definitions):
        where = f"definitions[{index}] ({obj['kind']} {obj['metadata']['name']})"
        try:
            namespaced = resource_of(kube, obj["apiVersion"], obj["kind"])[1]
        except KubeError as exc:
            if exc.status is not None:
                raise
            errors.append(f"{where}: {exc}")
            continue
        if namespaced and not obj["metadata"].get("namespace"):
            errors.append(f"{where}: metadata.namespace is required for a namespaced kind")
    return errors


def managed_view(live: dict | None, desired: dict):
    """The fields of ``live`` that ``desired`` sets: what a diff should show as 'before'."""
    if live is None:
        return None
    if isinstance(desired, dict):
        return {k: managed_view(live.get(k), v) if isinstance(live, dict) else None
                for k, v in desired.items() if isinstance(live, dict) and k in live}
    if isinstance(desired, list) and isinstance(live, list) and len(live) == len(desired):
        return [managed_view(a, b) for a, b in zip(live, desired)]
    return live


def apply_object(kube: Kube, obj: dict, check_mode: bool, field_manager: str) -> dict:
    """Make one object look like ``obj``: GET it, and only when it differs, server-side apply it.

    Returns {changed, before, after} with before/after limited to the fields ``obj`` sets.
    """
    live = kube.get_or_none(object_path(kube, obj))
    if live is not None and contains(live, obj):
        return {"changed": False, "before": managed_view(live, obj), "after": managed_view(live, obj)}
    if not check_mode:
        path = object_path(kube, obj)
        try:
            applied = kube.patch(path, obj, patch_type="apply", query={"fieldManager": field_manager, "force": "true"})
        except KubeError as exc:
            if exc.status != 422 or live is None:
                raise
            applied = None
        if applied is None or not contains(applied, obj):
            # A server-side apply keeps the items another manager added to a list of type set or map (it takes
            # over only what it sets), and the union may even be invalid (a binding's validationActions with both
            # Deny and Warn). A merge patch replaces each list with ours.
            kube.patch(path, obj, patch_type="merge", query={"fieldManager": field_manager})
    return {"changed": True, "before": managed_view(live, obj), "after": obj}


def delete_objects(kube: Kube, objects: list[dict], check_mode: bool, timeout: float = 120.0,
                   interval: float = 1.0) -> list[dict]:
    """Delete the objects that exist (foreground) and wait until they are gone; returns those deleted."""
    present = [obj for obj in objects if kube.get_or_none(object_path(kube, obj)) is not None]
    if check_mode:
        return present
    for obj in present:
        try:
            kube.request("DELETE", object_path(kube, obj), body={"propagationPolicy": "Foreground"})
        except KubeError as exc:
            if exc.status != 404:
                raise
    deadline = time.monotonic() + timeout
    waiting = list(present)
    while waiting:
        waiting = [obj for obj in waiting if kube.get_or_none(object_path(kube, obj)) is not None]
        if waiting and time.monotonic() > deadline:
            raise KubeError("timed out after %ds waiting for deletion of %s" % (
                timeout, ", ".join(f"{o['kind']} {o['metadata']['name']}" for o in waiting)))
        if waiting:
            time.sleep(interval)
    return present


def shares_with_others(live: dict, field_manager: str) -> bool:
    """Whether another manager set fields of the object's content (status and finalizers do not count: a
    controller adds those to objects it did not make)."""
    for entry in live["metadata"].get("managedFields") or []:
        if entry.get("manager") == field_manager or entry.get("subresource") == "status":
            continue
        fields = dict(entry.get("fieldsV1") or {})
        fields.pop("f:status", None)
        metadata = {k: v for k, v in (fields.pop("f:metadata", None) or {}).items() if k != "f:finalizers"}
        if fields or metadata:
            return True
    return False


def release_objects(kube: Kube, objects: list[dict], check_mode: bool, field_manager: str,
                    timeout: float = 120.0) -> tuple[list[dict], list[dict]]:
    """Take back what ``field_manager`` made: objects only it set are deleted; on objects others set too, it
    gives up its fields (a server-side apply of nothing but the name), so theirs stay as they were. When the API
    server refuses what would be left as invalid (a Service someone only labelled has no ports without ours), the
    object was ours with others' additions, and it is deleted. Check mode asks the same question as a dry run.

    Returns (deleted, released)."""
    mine, shared = [], []
    for obj in objects:
        live = kube.get_or_none(object_path(kube, obj))
        if live is None or not any(e.get("manager") == field_manager
                                   for e in live["metadata"].get("managedFields") or []):
            continue
        (shared if shares_with_others(live, field_manager) else mine).append(obj)
    released, refused = [], []
    for obj in shared:
        meta = {k: v for k, v in obj["metadata"].items() if k in ("name", "namespace")}
        query = {"fieldManager": field_manager, "force": "true", **({"dryRun": "All"} if check_mode else {})}
        try:
            kube.patch(object_path(kube, obj), {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": meta},
                       patch_type="apply", query=query)
        except KubeError as exc:
            if exc.status != 422:
                raise
            refused.append(obj)
        else:
            released.append(obj)
    # Deleted in reverse order of the definitions, as state absent deletes.
    doomed = [obj for obj in objects if any(obj is other for other in mine + refused)]
    return delete_objects(kube, list(reversed(doomed)), check_mode, timeout), released


def mask_secrets(obj):
    """A copy of an object (or a diff side) with the values of a Secret's data replaced."""
    if isinstance(obj, dict) and obj.get("kind") == "Secret":
        return {k: ({dk: "********" for dk in v} if k in ("data", "stringData") and isinstance(v, dict) else v)
                for k, v in obj.items()}
    return obj


def describe_object(obj: dict, changed: bool) -> dict:
    return {"kind": obj["kind"], "namespace": obj["metadata"].get("namespace", ""), "name": obj["metadata"]["name"],
            "changed": changed}


def ensure_objects(kube: Kube, objects: list[dict], state: str, check_mode: bool, field_manager: str = "secure_cluster",
                   wait_timeout: float = 120.0, mask=mask_secrets) -> dict:
    """Apply (state present) or delete and wait (state absent) many objects; the module result with a diff.

    Deletion goes in reverse order, so a namespace listed first is deleted last. State released: see
    release_objects.
    """
    if state == "released":
        gone, released = release_objects(kube, objects, check_mode, field_manager, wait_timeout)
        return {"changed": bool(gone or released),
                "objects": [describe_object(o, True) for o in gone + released],
                "diff": {"before": {f"{o['kind']}/{o['metadata']['name']}": "present" for o in gone + released},
                         "after": {**{f"{o['kind']}/{o['metadata']['name']}": "absent" for o in gone},
                                   **{f"{o['kind']}/{o['metadata']['name']}": f"without the fields of {field_manager}"
                                      for o in released}}}}
    if state == "absent":
        gone = delete_objects(kube, list(reversed(objects)), check_mode, wait_timeout)
        return {"changed": bool(gone), "objects": [describe_object(o, True) for o in gone],
                "diff": {"before": {f"{o['kind']}/{o['metadata']['name']}": "present" for o in gone},
                         "after": {f"{o['kind']}/{o['metadata']['name']}": "absent" for o in gone}}}
    results = [(obj, apply_object(kube, obj, check_mode, field_manager)) for obj in objects]
    changed = [(obj, r) for obj, r in results if r["changed"]]
    return {"changed": bool(changed), "objects": [describe_object(obj, r["changed"]) for obj, r in results],
            "diff": {"before": {f"{o['kind']}/{o['metadata']['name']}": mask(r["before"]) for o, r in changed},
                     "after": {f"{o['kind']}/{o['metadata']['name']}": mask(r["after"]) for o, r in changed}}}
