# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The admission guard: ValidatingAdmissionPolicies (admissionregistration.k8s.io/v1, GA since Kubernetes 1.30)
and their bindings that make the API server refuse changes to what the pattern set, for every subject but the
platform's own.

One policy per control, each matching only what the pattern owns, so that Kubernetes' own controllers and the
kubelet keep working (node status and leases are other resources; the node lifecycle controller's taints are
not the edge marker's):

- edge nodes: an UPDATE of a node that carries the edge labels must keep them and the edge taints;
- Calico policies: UPDATE or DELETE of the pattern's GlobalNetworkPolicies (by their stored names) and of the
  namespace isolation's policies in the isolated namespaces;
- private Services: an UPDATE of a listed Service that has the provider's private annotation must keep it;
- the VPN: UPDATE or DELETE of its Deployment, Secret and routes DaemonSet.

Everything the rules name comes from the declarations the steps use (the edge marker, the policies' names, the
provider's private annotation, the VPN's names), passed in by the admission_guard role. Pure functions.
"""

from __future__ import annotations

import json
import re

API_VERSION = "admissionregistration.k8s.io/v1"
MANAGED_BY = {"app.kubernetes.io/managed-by": "secure_cluster", "app.kubernetes.io/part-of": "admission-guard"}
# What each policy keeps, in words, for the audit's Admission guard findings.
WHAT = "secure-cluster.containers-workload/guards"
SUBJECT = re.compile(r"^(User|Group):(.+)$|^ServiceAccount:([a-z0-9.-]+)/([a-z0-9.-]+)$")


def cel(value) -> str:
    """A CEL literal of a string or a list of strings (JSON's escapes are CEL's)."""
    return json.dumps(value)


def subject_errors(subjects: list[str]) -> list[str]:
    return [f"exempt subject {s!r} is not User:<name>, Group:<name> or ServiceAccount:<namespace>/<name>"
            for s in subjects if not SUBJECT.match(str(s))]


def service_accounts(subjects: list[str]) -> list[tuple[str, str]]:
    """(namespace, name) of each ServiceAccount subject."""
    return [(m[3], m[4]) for m in (SUBJECT.match(s) for s in subjects) if m and m[3]]


def exempt(subjects: list[str]) -> tuple[list[str], list[str]]:
    """(user names, group names) of the exempt subjects, a service account as the API server names it."""
    users, groups = [], []
    for subject in subjects:
        match = SUBJECT.match(subject)
        if match[3]:
            users.append(f"system:serviceaccount:{match[3]}:{match[4]}")
        elif subject.startswith("User:"):
            users.append(match[2])
        else:
            groups.append(match[2])
    return sorted(set(users)), sorted(set(groups))


def not_exempt(subjects: list[str]) -> dict:
    """The match condition of every policy: the request is not from an exempt subject."""
    users, groups = exempt(subjects)
    return {"name": "not-the-platform",
            "expression": f"!(request.userInfo.username in {cel(users)}) && !(has(request.userInfo.groups) && "
                          f"request.userInfo.groups.exists(g, g in {cel(groups)}))"}


def _has(obj: str, field: str, values: dict) -> str:
    """CEL: the object's metadata.<field> (labels, annotations) has each of the values."""
    return " && ".join([f"has({obj}.metadata.{field})"] + [
        f"({cel(k)} in {obj}.metadata.{field} && {obj}.metadata.{field}[{cel(k)}] == {cel(v)})"
        for k, v in sorted(values.items())])


def _has_taint(taint: dict) -> str:
    value = taint.get("value") or ""
    return (f"(has(object.spec.taints) && object.spec.taints.exists(t, t.key == {cel(taint['key'])} && "
            f"(has(t.value) ? t.value : '') == {cel(value)} && t.effect == {cel(taint['effect'])}))")


def _rule(group: str, version: str, resources: list[str], operations: list[str], names=None) -> dict:
    rule = {"apiGroups": [group], "apiVersions": [version], "operations": operations, "resources": resources}
    if names:
        rule["resourceNames"] = sorted(set(names))
    return rule


def _namespaces(namespaces: list[str]) -> dict:
    return {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In",
                                  "values": sorted(set(namespaces))}]}


def controls(edge_labels: dict, edge_taints: list[dict], global_policies: list[str],
             isolated_namespaces: list[str], isolation_policies: dict, services: list[dict],
             private_annotations: dict, vpn: dict | None) -> list[dict]:
    """Each control the guard protects: {name suffix, what, rules, namespaces (or None), validations}.

    global_policies: the GlobalNetworkPolicies' stored names; isolation_policies: {"kubernetes": names,
    "calico": stored names} of the policies in each isolated namespace; services: [{namespace, name}] made
    private; private_annotations: what makes them private; vpn: {namespace, deployment, secret, daemonset}."""
    out = []
    if edge_labels:
        was_edge = _has("oldObject", "labels", edge_labels)
        marker = ", ".join(f"{k}={v}" for k, v in sorted(edge_labels.items()))
        out.append({"suffix": "edge-nodes", "what": "the edge marker's labels and taints on edge nodes",
                    "rules": [_rule("", "v1", ["nodes"], ["UPDATE"])], "namespaces": None,
                    "validations": [
                        {"expression": f"!({was_edge}) || ({_has('object', 'labels', edge_labels)})",
                         "message": f"the admission guard keeps the edge labels ({marker}) of edge nodes"},
                        *({"expression": f"!({was_edge}) || {_has_taint(t)}",
                           "message": "the admission guard keeps the edge taint "
                                      f"{t['key']}={t.get('value') or ''}:{t['effect']} on edge nodes"}
                          for t in edge_taints)]})
    if global_policies:
        out.append({"suffix": "calico-global", "what": "the pattern's GlobalNetworkPolicies",
                    "rules": [_rule("crd.projectcalico.org", "v1", ["globalnetworkpolicies"], ["UPDATE", "DELETE"],
                                    global_policies)], "namespaces": None,
                    "validations": [{"expression": "false", "message": "the admission guard keeps the pattern's "
                                     "GlobalNetworkPolicies (NodePort lockdown, host firewall)"}]})
    rules = [_rule(group, "v1", [plural], ["UPDATE", "DELETE"], isolation_policies.get(kind))
             for kind, group, plural in (("kubernetes", "networking.k8s.io", "networkpolicies"),
                                         ("calico", "crd.projectcalico.org", "networkpolicies"))
             if isolation_policies.get(kind)]
    if isolated_namespaces and rules:
        out.append({"suffix": "namespace-isolation", "what": "the namespace isolation's policies",
                    "rules": rules, "namespaces": isolated_namespaces,
                    "validations": [{"expression": "false", "message": "the admission guard keeps the namespace "
                                     "isolation's policies"}]})
    if services and private_annotations:
        keys = [f"{s['namespace']}/{s['name']}" for s in services]
        was = _has("oldObject", "annotations", private_annotations)
        keeps = _has("object", "annotations", private_annotations)
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(private_annotations.items()))
        out.append({"suffix": "private-services", "what": "the private annotation of the Services made private",
                    "rules": [_rule("", "v1", ["services"], ["UPDATE"], [s["name"] for s in services])],
                    "namespaces": sorted({s["namespace"] for s in services}),
                    "validations": [{
                        "expression": f"!(oldObject.metadata.namespace + '/' + oldObject.metadata.name in {cel(keys)})"
                                      f" || !({was}) || ({keeps})",
                        "message": f"the admission guard keeps this Service private ({shown})"}]})
    if vpn:
        out.append({"suffix": "vpn", "what": "the VPN's Deployment, Secret and routes DaemonSet",
                    "rules": [_rule("apps", "v1", ["deployments"], ["UPDATE", "DELETE"], [vpn["deployment"]]),
                              _rule("apps", "v1", ["daemonsets"], ["UPDATE", "DELETE"], [vpn["daemonset"]]),
                              _rule("", "v1", ["secrets"], ["UPDATE", "DELETE"], [vpn["secret"]])],
                    "namespaces": [vpn["namespace"]],
                    "validations": [{"expression": "false", "message": "the admission guard keeps the VPN's "
                                     "Deployment, Secret and routes DaemonSet"}]})
    return out


def objects(name: str, controls_: list[dict], subjects: list[str], dry_run: bool = False) -> list[dict]:
    """The ValidatingAdmissionPolicy and its binding of each control. dry_run: the binding warns (and audits)
    instead of refusing."""
    actions = ["Warn", "Audit"] if dry_run else ["Deny", "Audit"]
    out = []
    for control in controls_:
        policy = f"{name}-{control['suffix']}"
        match = {"resourceRules": control["rules"]}
        if control["namespaces"] is not None:
            match["namespaceSelector"] = _namespaces(control["namespaces"])
        out.append({"apiVersion": API_VERSION, "kind": "ValidatingAdmissionPolicy",
                    "metadata": {"name": policy, "labels": dict(MANAGED_BY), "annotations": {WHAT: control["what"]}},
                    "spec": {"failurePolicy": "Fail", "matchConstraints": match,
                             "matchConditions": [not_exempt(subjects)], "validations": control["validations"]}})
        out.append({"apiVersion": API_VERSION, "kind": "ValidatingAdmissionPolicyBinding",
                    "metadata": {"name": policy, "labels": dict(MANAGED_BY)},
                    "spec": {"policyName": policy, "validationActions": actions}})
    return out
