# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Up-front checks of what the steps need from the cluster: the API groups they write, and this identity's right
to do those writes, before the first step changes anything.

Cheap by construction: one GET /apis for every API group at once, one SelfSubjectAccessReview per cluster-scoped
right (in parallel), one SelfSubjectRulesReview per namespace involved, and a SelfSubjectAccessReview for a
namespaced right those rules do not show (to confirm a refusal, or where the authorizer cannot list rules). The
reviews are POSTs that store nothing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import rbac
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.errors import SecureClusterError
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import KubeError

AUTHZ = "/apis/authorization.k8s.io/v1"
PARALLEL_REVIEWS = 8


class PreflightError(SecureClusterError):
    """What the steps need and the cluster or the identity lacks; nothing was changed."""


def param_errors(params: dict) -> list[str]:
    errors = []
    for index, right in enumerate(params.get("rights") or []):
        if not right.get("verb") or not right.get("resource"):
            errors.append(f"rights[{index}]: give 'verb' and 'resource'")
    for index, group in enumerate(params.get("api_groups") or []):
        if "/" not in (group.get("group_version") or ""):
            errors.append(f"api_groups[{index}]: group_version '{group.get('group_version')}' is not group/version, "
                          f"such as crd.projectcalico.org/v1")
    return errors


def right_text(right: dict) -> str:
    resource = right["resource"] + (f"/{right['subresource']}" if right.get("subresource") else "")
    group = f" ({right['group']})" if right.get("group") else ""
    where = f" in namespace {right['namespace']}" if right.get("namespace") else " (cluster-wide)"
    return f"{right['verb']} {resource}{group}{where}"


def resource_of(right: dict) -> str:
    """``plural`` or ``plural/subresource``, as RBAC names it."""
    return right["resource"] + (f"/{right['subresource']}" if right.get("subresource") else "")


def rule_allows(rule: dict, right: dict) -> bool:
    """Whether one resourceRule of a SelfSubjectRulesReview grants the right for any object name (RBAC's own
    matching, :func:`rbac.rule_allows`: a rule limited to resourceNames does not)."""
    return rbac.rule_allows(rule, right["verb"], right.get("group") or "", resource_of(right))


def rules_review(kube, namespace: str) -> dict:
    return kube.request("POST", f"{AUTHZ}/selfsubjectrulesreviews", body={
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
        "spec": {"namespace": namespace}}).get("status") or {}


def access_review(kube, right: dict) -> bool:
    attributes = {"verb": right["verb"], "resource": right["resource"], "group": right.get("group") or ""}
    for key in ("subresource", "namespace"):
        if right.get(key):
            attributes[key] = right[key]
    status = kube.request("POST", f"{AUTHZ}/selfsubjectaccessreviews", body={
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attributes}}).get("status") or {}
    return bool(status.get("allowed"))


def username(kube) -> str:
    try:
        review = kube.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", body={
            "apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
        return (review.get("status") or {}).get("userInfo", {}).get("username") or "this identity"
    except KubeError:
        return "this identity"


def expand(rights: list[dict]) -> list[dict]:
    """One right per namespace of ``namespaces``; duplicates dropped."""
    out, seen = [], set()
    for right in rights:
        spaces = right["namespaces"] if right.get("namespaces") is not None else [right.get("namespace")]
        for namespace in spaces:
            one = {**{k: v for k, v in right.items() if k != "namespaces"}, "namespace": namespace or None}
            key = (one["verb"], one.get("group") or "", one["resource"], one.get("subresource") or "", namespace)
            if key not in seen:
                seen.add(key)
                out.append(one)
    return out


def denied_rights(kube, rights: list[dict]) -> list[dict]:
    """The rights this identity lacks. A cluster-scoped right is judged by a SelfSubjectAccessReview of its own:
    a namespace's rules review also lists the rules of that namespace's RoleBindings, which grant nothing
    outside it. A namespaced right may be confirmed by its own namespace's rules review; what that review does
    not show is judged by an access review too (rules reviews may be incomplete, as with webhook authorizers)."""
    rights = expand(rights)
    namespaces = sorted({r["namespace"] for r in rights if r.get("namespace")})
    reviews = {}
    if namespaces:
        with ThreadPoolExecutor(max_workers=min(PARALLEL_REVIEWS, len(namespaces))) as pool:
            reviews = dict(zip(namespaces, pool.map(lambda ns: rules_review(kube, ns), namespaces)))
    unconfirmed = [r for r in rights if not r.get("namespace") or not any(
        rule_allows(rule, r) for rule in reviews[r["namespace"]].get("resourceRules") or [])]
    if not unconfirmed:
        return []
    with ThreadPoolExecutor(max_workers=min(PARALLEL_REVIEWS, len(unconfirmed))) as pool:
        allowed = list(pool.map(lambda r: access_review(kube, r), unconfirmed))
    return [r for r, ok in zip(unconfirmed, allowed) if not ok]


def missing_groups(kube, groups: list[dict]) -> list[dict]:
    if not groups:
        return []
    served = {v.get("groupVersion") for g in kube.get("/apis").get("groups") or [] for v in g.get("versions") or []}
    return [g for g in groups if g["group_version"] not in served]


def missing_resources(kube, resources: list[dict]) -> list[dict]:
    """The resources whose group/version does not serve them (one discovery GET per group/version)."""
    served = {}
    for gv in sorted({r["group_version"] for r in resources}):
        path = "/api/v1" if gv == "v1" else f"/apis/{gv}"
        try:
            served[gv] = {item.get("name") for item in kube.get(path).get("resources") or []}
        except KubeError as exc:
            if exc.status != 404:
                raise
            served[gv] = set()
    return [r for r in resources if r["resource"] not in served[r["group_version"]]]


def missing_service_accounts(kube, accounts: list[dict]) -> list[dict]:
    return [a for a in accounts
            if kube.get_or_none(f"/api/v1/namespaces/{a['namespace']}/serviceaccounts/{a['name']}") is None]


def identity(kube) -> dict:
    """Who this connection is, as the API server authenticates it (a SelfSubjectReview)."""
    review = kube.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", body={
        "apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    info = (review.get("status") or {}).get("userInfo") or {}
    return {"username": info.get("username") or "", "groups": list(info.get("groups") or [])}


# What one preflight call checks; queued() and merged() carry these over from a deferred call.
CHECKS = ("api_groups", "resources", "service_accounts", "rights")


def queued(params: dict) -> dict:
    """What a call with ``defer`` leaves for the later call with ``queued``: its checks, each API group with the
    call's fix."""
    entry = {key: list(params.get(key) or []) for key in CHECKS}
    if params.get("api_groups_fix"):
        entry["api_groups"] = [{**group, "fix": group.get("fix") or params["api_groups_fix"]}
                               for group in entry["api_groups"]]
    return entry


def merged(params: dict, entries: list[dict]) -> dict:
    """A call's own checks and the queued ones as one call: the rights, groups and resources of every step,
    judged together (expand() and the reviews drop what two steps both need)."""
    own = queued(params)
    return {**params, **{key: [item for entry in [*entries, own] for item in entry.get(key) or []] for key in CHECKS},
            "api_groups_fix": None}


def run(run) -> dict:
    kube, params = run.kube, run.params
    groups = missing_groups(kube, params.get("api_groups") or [])
    resources = missing_resources(kube, params.get("resources") or [])
    accounts = missing_service_accounts(kube, params.get("service_accounts") or [])
    denied = denied_rights(kube, params.get("rights") or [])
    problems = []
    if resources:
        problems.append("the API server does not serve " + "; ".join(
            f"{r['resource']} in {r['group_version']} ({r['why']})" for r in resources))
    if accounts:
        problems.append("no ServiceAccount " + "; ".join(
            f"{a['namespace']}/{a['name']} ({a['why']})" for a in accounts))
    if groups:
        # Each group's own fix (a queued step's), else the call's; groups sharing a fix are named before it.
        by_fix: dict[str, list[dict]] = {}
        for group in groups:
            by_fix.setdefault(group.get("fix") or params.get("api_groups_fix") or "", []).append(group)
        problems.append("the API server does not serve " + "; ".join(
            "; ".join(f"{g['group_version']} ({g['why']})" for g in named) + (f": {fix}" if fix else "")
            for fix, named in by_fix.items()))
    if denied:
        who = username(kube)
        problems.append(f"{who} may not " + "; ".join(
            right_text(r) + (f" ({r['why']})" if r.get("why") else "") for r in denied)
            + f": grant these to {who} (a Role or ClusterRole and a binding), run with a kubeconfig that has them, "
              f"or switch those steps off")
    result = {"missing_api_groups": [g["group_version"] for g in groups],
              "missing_resources": [f"{r['group_version']} {r['resource']}" for r in resources],
              "missing_service_accounts": [f"{a['namespace']}/{a['name']}" for a in accounts],
              "denied": [right_text(r) for r in denied]}
    if params.get("identity"):
        result["identity"] = identity(kube)
    if problems:
        raise PreflightError("before any change: " + "; ".join(problems) + "; nothing was changed", result)
    return result
