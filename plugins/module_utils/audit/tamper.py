# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The admission guard as the audit sees it (issue 32).

The API server judges, not this module: each tamper path of the Tamper section is tried as the subject RBAC
lets do it, by a server-side dry run (``dryRun=All``, which runs authorization and admission and persists
nothing) with the audit identity impersonating that subject. A refusal by one of the guard's
ValidatingAdmissionPolicies is "blocked by the admission guard"; a dry run that passes is not blocked.

The guard itself: its policies and bindings as the cluster has them, against what the run that installs it
would make (missing, changed, not bound, warning only), and against the policies the last audit found in place.
"""

from __future__ import annotations

import json

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import admission
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import KubeError, contains

API = "/apis/admissionregistration.k8s.io/v1"
KINDS = {"ValidatingAdmissionPolicy": API + "/validatingadmissionpolicies",
         "ValidatingAdmissionPolicyBinding": API + "/validatingadmissionpolicybindings"}
SELECTOR = ",".join(f"{k}={v}" for k, v in sorted(admission.MANAGED_BY.items()))
# Who a group is impersonated as: Kubernetes impersonates groups only together with a user.
PROBE_USER = "secure-cluster:tamper-probe"
# What the dry run of a change to the VPN's Deployment sets (never stored: it is a dry run).
PROBE_ANNOTATION = "secure-cluster.containers-workload/tamper-probe"
BLOCKED, ALLOWED, REFUSED, UNKNOWN = "blocked", "allowed", "refused", "unknown"


def read(kube) -> dict | None:
    """The guard's policies and bindings (by the labels it sets): {kind: [objects]}; empty lists on a cluster
    that does not serve them, None when this identity may not list them."""
    found = {}
    for kind, path in KINDS.items():
        try:
            found[kind] = kube.get(path, {"labelSelector": SELECTOR})["items"]
        except KubeError as exc:
            if exc.status == 404:
                found[kind] = []
            elif exc.status == 403:
                return None
            else:
                raise
    return found


def in_place(found: dict | None) -> list[str]:
    """The names of the guard's policies that are bound and refuse (Deny): what the state keeps."""
    if not found:
        return []
    denying = {b["spec"].get("policyName") for b in found["ValidatingAdmissionPolicyBinding"]
               if "Deny" in (b["spec"].get("validationActions") or [])}
    return sorted(p["metadata"]["name"] for p in found["ValidatingAdmissionPolicy"] if p["metadata"]["name"] in denying)


def kept(last: list[dict] | None) -> list[str]:
    """The guard's policies the last audit found in place (its state keeps them)."""
    return [f["object"] for f in last or [] if f["kind"] == "Admission guard" and f.get("nature") == "in place"]


def _finding(severity: str, name: str, exposure: str, fix: str, nature: str) -> dict:
    return {"severity": severity, "kind": "Admission guard", "object": name, "exposure": f"admission guard: {exposure}",
            "fix": fix, "nature": nature, "area": "tamper"}


RUN_AGAIN = "run the pattern again with secure_cluster_guard: true (it restores the guard)"


def findings(found: dict | None, expected: list[dict], last: list[str]) -> list[dict]:
    """The guard's findings: each policy the run would make (``expected``, its objects) or that the last audit
    found in place (``last``) and is gone now (high), changed from what the run makes (high), not bound (high) or
    bound to warn only (low, info when the run asks for a dry run), else in place (info)."""
    if found is None:
        return [_finding("info", "policies", "unknown: this identity may not list ValidatingAdmissionPolicies, so "
                         "whether the guard is in place is not known", "run the audit with an identity that may "
                         "list admissionregistration.k8s.io", "unknown")] if expected or last else []
    live = {(kind, o["metadata"]["name"]): o for kind, items in found.items() for o in items}
    wanted = {(o["kind"], o["metadata"]["name"]): o for o in expected}
    names = sorted({n for k, n in wanted if k == "ValidatingAdmissionPolicy"} | set(last)
                   | {n for k, n in live if k == "ValidatingAdmissionPolicy"})
    out = []
    for name in names:
        policy = live.get(("ValidatingAdmissionPolicy", name))
        binding = next((b for b in found["ValidatingAdmissionPolicyBinding"] if b["spec"].get("policyName") == name),
                       None)
        what = ((policy or wanted.get(("ValidatingAdmissionPolicy", name)) or {}).get("metadata", {})
                .get("annotations") or {}).get(admission.WHAT, "what the pattern set")
        if policy is None:
            out.append(_finding("high", name, f"missing: the API server no longer refuses changes to {what}",
                                RUN_AGAIN, "missing"))
            continue
        changed = [word for word, kind, obj in (("policy", "ValidatingAdmissionPolicy", policy),
                                                ("binding", "ValidatingAdmissionPolicyBinding", binding))
                   if obj is not None and (kind, obj["metadata"]["name"]) in wanted
                   and not contains(obj, _desired(wanted[(kind, obj["metadata"]["name"])]))]
        actions = (binding or {}).get("spec", {}).get("validationActions") or []
        wanted_binding = wanted.get(("ValidatingAdmissionPolicyBinding", (binding or {}).get("metadata", {}).get("name")))
        if binding is None:
            out.append(_finding("high", name, f"not enforced: no binding, so nothing refuses changes to {what}",
                                RUN_AGAIN, "unbound"))
        elif changed:
            out.append(_finding("high", name, f"changed since the pattern set it ({' and '.join(changed)}): its "
                                f"rules for {what} may no longer hold", RUN_AGAIN, "changed"))
        elif "Deny" not in actions:
            dry = wanted_binding is not None and "Deny" not in wanted_binding["spec"]["validationActions"]
            out.append(_finding("info" if dry else "low", name, f"dry run: changes to {what} are "
                                f"{', '.join(actions).lower() or 'not acted on'}ed, not refused",
                                "" if dry else "set admission_guard_dry_run: false and run the pattern again",
                                "warn"))
        else:
            out.append(_finding("info", name, f"in place: the API server refuses changes to {what} from anyone "
                                "but the platform's own", "", "in place"))
    return out


def _desired(obj: dict) -> dict:
    return {"metadata": {"name": obj["metadata"]["name"]}, "spec": obj["spec"]}


def impersonation(key: tuple) -> dict:
    """The headers that make a request the subject's (kind, namespace, name). The API server gives an
    impersonated service account its groups."""
    kind, namespace, name = key
    if kind == "ServiceAccount":
        return {"Impersonate-User": f"system:serviceaccount:{namespace}:{name}"}
    if kind == "User":
        return {"Impersonate-User": name}
    return {"Impersonate-User": PROBE_USER, "Impersonate-Group": name}


def probe(what: str, method: str, path: str, body=None, patch_type: str | None = None) -> dict:
    """One change of a tamper path, to be tried as a dry run."""
    return {"what": what, "method": method, "path": path, "body": body, "patch_type": patch_type}


class Judge:
    """Tries probes as subjects, each (subject, probe) once, and says what the API server did."""

    def __init__(self, kube, policies: list[str]):
        self.kube = kube
        self.policies = tuple(policies)
        self.seen: dict[tuple, tuple[str, str]] = {}

    def __call__(self, key: tuple, change: dict) -> tuple[str, str]:
        """(verdict, why) of the change as the subject: blocked (by one of the guard's policies), allowed,
        refused (by the authorizer or another admission check) or unknown."""
        memo = (key, change["method"], change["path"], json.dumps(change["body"], sort_keys=True))
        if memo not in self.seen:
            self.seen[memo] = self._try(key, change)
        return self.seen[memo]

    def _try(self, key: tuple, change: dict) -> tuple[str, str]:
        try:
            self.kube.request(change["method"], change["path"], change["body"], query={"dryRun": "All"},
                              patch_type=change["patch_type"], headers=impersonation(key))
        except KubeError as exc:
            message = str(exc)
            policy = next((p for p in self.policies if f"ValidatingAdmissionPolicy '{p}'" in message), None)
            if policy:
                return BLOCKED, policy
            if exc.status == 403 and "cannot impersonate" in message:
                return UNKNOWN, "this identity may not impersonate it"
            if exc.status == 403:
                return REFUSED, "refused by the authorizer"
            if exc.status == 404:
                return UNKNOWN, "the object is not in the Kubernetes API"
            return UNKNOWN, message
        return ALLOWED, ""
