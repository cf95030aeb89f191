# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exposure audit: what in the cluster is reachable from where, and who can do what (module_utils/audit/access.py),
read-only towards the cluster. Given ``report``, it also writes the exposure report (module_utils/audit/report.py)
where it runs.

Every finding has a severity (high, medium, low, info), the object, what is exposed, and the fix (usually a
role of this collection). Only LIST requests are made, so a view-only kubeconfig is enough; RBAC this identity
may not list is reported as unknown.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import access
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import report as exposure_report
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import ingress_path, tamper
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.ibm import providers
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico import backend, guard, walk
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.resources import (
    CalicoError, crd_path, from_crd)
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.validation import one_resource_errors
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.nodes.edge import (
    EDGE_LABELS, EDGE_TAINTS, BLOCKING_EFFECTS, taint_text, tolerates)
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.errors import SecureClusterError
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import KubeError

SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "ibm-system", "calico-system",
                     "tigera-operator", "strongswan")
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2, "info": 3}


def finding(severity: str, kind: str, obj: str, exposure: str, fix: str, nature: str = "") -> dict:
    """A finding; ``nature`` tells apart findings of one kind on one object (a Service's NodePorts, an edge node's
    missing taints), for drift (module_utils/audit/report.py)."""
    found = {"severity": severity, "kind": kind, "object": obj, "exposure": exposure, "fix": fix}
    return {**found, "nature": nature} if nature else found


def list_or_empty(kube, path: str) -> list[dict]:
    """Items of a LIST; an API the cluster does not serve (no Calico CRDs) counts as empty."""
    try:
        return kube.get(path)["items"]
    except KubeError as exc:
        if exc.status == 404:
            return []
        raise


INTERNET_CLIENT = ipaddress.ip_network("203.0.113.10/32")  # a documentation address: "someone on the internet"


def nodeport_exposure(port: int, protocol: str, policies: list[dict], endpoints: list[dict]) -> tuple[bool, str]:
    """Whether a NodePort answers someone on the internet, walking the Calico policies as Felix orders them for
    traffic forwarded to a pod (calico.walk), on every host endpoint that is not a private interface."""
    public = [e for e in endpoints if (e["metadata"].get("labels") or {}).get("ibm.role") != "worker_private"]
    if not public:
        return True, "open on every node (no Calico host endpoint polices the nodes)"
    packet = {"protocol": protocol, "port": port, "source": INTERNET_CLIENT}
    verdicts = [walk.verdict(policies, e, packet, forwarded=True) for e in public]
    opened = [v for v in verdicts if v["allowed"]]
    if not opened:
        rule = verdicts[0]["by"]
        policy = next((p for p in policies if rule.startswith(p["metadata"]["name"] + " ")), None)
        kind = "preDNAT policy" if policy and (policy.get("spec") or {}).get("preDNAT") else "policy"
        return False, f"blocked by {kind} {rule.split(' ')[0]}"
    return True, f"open on {len(opened)} of {len(public)} public host endpoints ({opened[0]['by']})"


# Host ports worth knowing about when the public interface answers the internet.
HOST_PORTS = (("kubelet", "TCP", 10250), ("SSH", "TCP", 22), ("etcd", "TCP", 2379), ("BGP", "TCP", 179))


def felix_failsafe(store) -> tuple:
    if store is None:
        return walk.FAILSAFE_INBOUND
    try:
        return guard.failsafe_ports(store)
    except KubeError as exc:
        if exc.status == 404:
            return walk.FAILSAFE_INBOUND
        raise


def calico_store(run) -> tuple:
    """The backend Calico is read through (as calico_policy chooses it), and why; with ``auto`` and no way to
    reach Calico, none (a warning says so and Calico counts as empty, so clusters without Calico are audited)."""
    try:
        return backend.choose(run)
    except CalicoError as exc:
        if run.params.get("backend", "auto") != "auto":
            raise
        run.warn(f"Calico is not read, so no Calico policy counts: {exc}")
        return None, str(exc)


def calico_list(store, kind: str) -> list[dict]:
    """Every stored object of a Calico kind (all namespaces); an API the cluster does not serve counts as empty."""
    if store is None:
        return []
    try:
        return [{"kind": kind, **obj} for obj in store.read(kind, None)]
    except KubeError as exc:
        if exc.status == 404:
            return []
        raise


def host_findings(policies: list[dict], endpoints: list[dict], failsafe) -> list[dict]:
    """Which sensitive host ports answer someone on the internet on the nodes' public host endpoints."""
    public = [e for e in endpoints if (e["metadata"].get("labels") or {}).get("ibm.role") != "worker_private"]
    if not public:
        return [finding("medium", "Host", "nodes", "no Calico host endpoint: Calico does not firewall the nodes",
                        "role host_firewall (host endpoints and a deny-by-default policy)")]
    out = []
    for name, protocol, port in HOST_PORTS:
        packet = {"protocol": protocol, "port": port, "source": INTERNET_CLIENT}
        verdicts = [walk.verdict(policies, e, packet, failsafe) for e in public]
        opened = [v for v in verdicts if v["allowed"]]
        label = f"{name} {protocol}/{port}"
        if not opened:
            out.append(finding("info", "Host", label, f"closed on all {len(public)} public host endpoints: "
                                                      f"{verdicts[0]['by']}", ""))
        elif all("failsafe" in v["by"] for v in opened):
            out.append(finding("info", "Host", label, f"open on {len(opened)} of {len(public)} public host "
                                                      f"endpoints: a Calico failsafe port, kept open on purpose", ""))
        else:
            out.append(finding("medium", "Host", label, f"open on {len(opened)} of {len(public)} public host "
                                                        f"endpoints ({opened[0]['by']})",
                               "role host_firewall"))
    return out


def is_private_service(service: dict, provider: str) -> bool:
    annotations = service["metadata"].get("annotations") or {}
    if provider == "ibm":
        return annotations.get(providers.IBM_IP_TYPE) == "private"
    wanted = providers.service_annotations(provider, private=True)
    return bool(wanted) and all(annotations.get(k) == v for k, v in wanted.items())


def run(run) -> dict:
    """The exposure_info module: read the cluster (LIST only, and dry runs where the admission guard is) and return {findings, summary}, judging edge
    nodes by the edge marker (edge_labels, edge_taints; the collection's default when not given)."""
    kube, params = run.kube, run.params
    edge_labels = params.get("edge_labels") or EDGE_LABELS
    edge_taints = params.get("edge_taints") or EDGE_TAINTS
    nodes = kube.get("/api/v1/nodes")["items"]
    provider = providers.detect(nodes)
    services = kube.get("/api/v1/services")["items"]
    pods = kube.get("/api/v1/pods")["items"]
    namespaces = kube.get("/api/v1/namespaces")["items"]
    ingresses = list_or_empty(kube, "/apis/networking.k8s.io/v1/ingresses")
    k8s_policies = list_or_empty(kube, "/apis/networking.k8s.io/v1/networkpolicies")
    store, store_reason = calico_store(run)
    calico_gnps = [from_crd(p) for p in calico_list(store, "GlobalNetworkPolicy")]
    host_endpoints = [from_crd(e) for e in calico_list(store, "HostEndpoint")]
    calico_nps = calico_list(store, "NetworkPolicy")
    deployments = kube.get("/apis/apps/v1/deployments")["items"]
    rbac = access.read(kube)
    listed_gnps = calico_gnps
    findings, calico_gnps = invalid_policy_findings(calico_gnps)
    findings += service_findings(services, provider, calico_gnps, host_endpoints)
    findings += host_findings(calico_gnps, host_endpoints, felix_failsafe(store))
    findings += ingress_findings(ingresses)
    albs = alb_findings(deployments)
    findings += albs
    findings += pod_findings(pods, nodes, edge_labels, edge_taints)
    findings += edge_node_findings(nodes, edge_labels, edge_taints)
    edge_nodes = sorted(n["metadata"]["name"] for n in nodes if is_edge_node(n, edge_labels))
    findings += namespace_findings(namespaces, k8s_policies, calico_nps)
    findings += ingress_path_findings(services, ingresses, pods, namespaces, k8s_policies, nodes)
    vpn = [d for d in deployments if (d["metadata"].get("labels") or {}).get("app") == "strongswan"]
    for deployment in vpn:
        ready = (deployment.get("status") or {}).get("readyReplicas") or 0
        findings.append(finding("info", "VPN", f"{deployment['metadata']['namespace']}/{deployment['metadata']['name']}",
                                "strongSwan VPN pod " + ("ready" if ready else "not ready"),
                                "" if ready else "check the VPN pod's logs (ipsec statusall)"))
    report = params.get("report")
    # The before report compares with the last one; the after report's comparison is what it closed.
    last, unreadable = exposure_report.last_state(report) if report and report["phase"] == "before" else (None, "")
    guard = tamper.read(kube)
    findings += tamper.findings(guard, params.get("admission_guard") or [], tamper.kept(last))
    policies = [p["metadata"]["name"] for p in (guard or {}).get("ValidatingAdmissionPolicy", [])]
    controls = pattern_controls([n for n in nodes if is_edge_node(n, edge_labels)], edge_labels, edge_taints,
                                listed_gnps, calico_nps, services, provider, vpn)
    findings += access.findings(rbac, pods, provider, tuple(params.get("platform_subjects") or ()), controls,
                                tamper.Judge(kube, policies) if policies else None)
    findings.sort(key=lambda f: (SEVERITY_ORDER[f["severity"]], f["kind"], f["object"]))
    summary = {severity: sum(1 for f in findings if f["severity"] == severity) for severity in SEVERITY_ORDER}
    summary.update({
        "provider": provider,
        "nodeports_blocked": all(f["severity"] != "high" for f in findings if f["kind"] == "NodePort"),
        "public_albs_enabled": sum(1 for f in albs if "public" in f["exposure"] and "enabled" in f["exposure"]),
        "vpn": bool(vpn),
        "edge_nodes": len(edge_nodes),
        "access_unknown": access.unknown_kinds(rbac),
    })
    result = {"findings": findings, "summary": summary, "drift": [],
              "calico_backend": {"backend": store.name if store else "", "reason": store_reason}}
    summary["drift"] = 0
    if report:
        try:
            if unreadable:
                run.warn(unreadable)
            result["drift"] = exposure_report.drift(last, findings)
            summary["drift"] = len(result["drift"])
            result["report"] = exposure_report.write(report, result, last, run.check_mode, unreadable)
            result["report"]["state_unreadable"] = unreadable
        except (OSError, ValueError) as exc:
            raise SecureClusterError(f"could not write the exposure report: {exc}", result) from exc
    return result


def pattern_controls(edge_nodes: list[dict], edge_labels: dict, edge_taints: list[dict], gnps: list[dict],
                     calico_nps: list[dict], services: list[dict], provider: str, vpn: list[dict]) -> list[dict]:
    """The controls the pattern sets, as the cluster has them now, for the report's tamper part: the edge
    marker, every Calico policy (the audit cannot tell which a run wrote, so it lists them all), private-only
    ingress, each private LoadBalancer Service and each VPN's Secret; with the changes (probes) that would undo
    each, which the admission guard refuses (see audit/tamper.py)."""
    out = []
    if edge_nodes:
        out.append(access.edge_control(sorted(n["metadata"]["name"] for n in edge_nodes),
                                       edge_probes(min(edge_nodes, key=lambda n: n["metadata"]["name"]),
                                                   edge_labels, edge_taints)))
    for kind, policies in (("GlobalNetworkPolicy", gnps), ("NetworkPolicy", calico_nps)):
        for p in policies:
            namespace = p["metadata"].get("namespace") if kind == "NetworkPolicy" else None
            out.append(access.calico_policy_control(kind, p["metadata"]["name"], namespace, (tamper.probe(
                "delete it", "DELETE", crd_path(kind, namespace, p["metadata"]["name"])),)))
    out.append(access.ingress_control())
    for service in services:
        meta = service["metadata"]
        if (service.get("spec") or {}).get("type") == "LoadBalancer" and is_private_service(service, provider):
            public = ({providers.IBM_IP_TYPE: "public"} if provider == "ibm" else
                      {k: None for k in providers.service_annotations(provider, private=True)})
            out.append(access.private_service_control(meta["namespace"], meta["name"], (tamper.probe(
                "turn it public", "PATCH", f"/api/v1/namespaces/{meta['namespace']}/services/{meta['name']}",
                {"metadata": {"annotations": public}}, "merge"),)))
    for d in vpn:
        namespace, name = d["metadata"]["namespace"], d["metadata"]["name"]
        secret = f"{name}-secrets"
        out.append(access.vpn_control(namespace, secret, {
            "secret": (tamper.probe("delete the Secret", "DELETE", f"/api/v1/namespaces/{namespace}/secrets/{secret}"),),
            "deployment": (tamper.probe("change the Deployment", "PATCH",
                                        f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
                                        {"metadata": {"annotations": {tamper.PROBE_ANNOTATION: "tamper"}}}, "merge"),)}))
    return out


def edge_probes(node: dict, edge_labels: dict, edge_taints: list[dict]) -> tuple:
    """The changes that remove the edge marker from a node: its labels, and each edge taint it carries."""
    path = f"/api/v1/nodes/{node['metadata']['name']}"
    taints = (node.get("spec") or {}).get("taints") or []
    out = [tamper.probe("remove the edge labels", "PATCH", path,
                        {"metadata": {"labels": {k: None for k in edge_labels}}}, "merge")]
    for taint in edge_taints:
        def same(t, taint=taint):
            return (t.get("key"), t.get("value") or "", t.get("effect")) == \
                (taint["key"], taint.get("value") or "", taint["effect"])
        if any(same(t) for t in taints):
            out.append(tamper.probe(f"remove the taint {taint['key']}:{taint['effect']}", "PATCH", path,
                                    {"spec": {"taints": [t for t in taints if not same(t)]}}, "merge"))
    return tuple(out)


def param_errors(params: dict) -> list[str]:
    report = params.get("report") or {}
    name = report.get("name") or ""
    errors = backend.backend_errors(params)
    if name and ("/" in name or name.startswith(".")):
        errors.append(f"report.name {name!r} must be a file name (no '/', not starting with '.')")
    return errors


def invalid_policy_findings(policies: list[dict]) -> tuple[list[dict], list[dict]]:
    """Felix ignores a policy that fails Calico's validation, as if it did not exist: so does the audit, and it
    says so. Returns the findings and the policies that are enforced."""
    findings, valid = [], []
    for index, policy in enumerate(policies):
        errors = one_resource_errors(policy, index)
        if errors:
            findings.append(finding("high", "Calico policy", policy["metadata"]["name"],
                                    "invalid, so not enforced: " + "; ".join(errors),
                                    "fix the policy with calico_policy (which validates it) or delete it"))
        else:
            valid.append(policy)
    return findings, valid


def service_findings(services: list[dict], provider: str, gnps: list[dict], endpoints: list[dict]) -> list[dict]:
    out = []
    for service in services:
        spec, meta = service.get("spec") or {}, service["metadata"]
        name = f"{meta['namespace']}/{meta['name']}"
        if spec.get("type") == "LoadBalancer":
            if is_private_service(service, provider):
                out.append(finding("info", "LoadBalancer", name, "private load balancer", ""))
            else:
                out.append(finding("medium", "LoadBalancer", name, "public load balancer",
                                   "role private_load_balancer (private IP annotation for the provider)"))
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            for port in spec.get("ports") or []:
                if not port.get("nodePort"):
                    continue
                nature = f"{port['nodePort']}/{port.get('protocol', 'TCP')}"
                opened, detail = nodeport_exposure(port["nodePort"], port.get("protocol", "TCP"), gnps, endpoints)
                if opened:
                    out.append(finding("high", "NodePort", name, f"NodePort {nature} {detail}",
                                       "secure_cluster_nodeport_lockdown: true (role nodeport_lockdown, preDNAT deny "
                                       "of the NodePort range; on by default on IKS)", nature))
                else:
                    out.append(finding("info", "NodePort", name, f"NodePort {nature} {detail}", "", nature))
    return out


def ingress_findings(ingresses: list[dict]) -> list[dict]:
    out = []
    for ingress in ingresses:
        meta = ingress["metadata"]
        name = f"{meta['namespace']}/{meta['name']}"
        klass = (ingress.get("spec") or {}).get("ingressClassName") or ""
        alb_id = (meta.get("annotations") or {}).get("ingress.bluemix.net/ALB-ID", "")
        hosts = ", ".join(r.get("host", "*") for r in (ingress.get("spec") or {}).get("rules") or [])
        private = klass.startswith("private-") or (alb_id and all(a.startswith("private-") for a in alb_id.split(";")))
        if private:
            out.append(finding("info", "Ingress", name, f"{hosts} on private ALB ({klass or alb_id})", ""))
        else:
            out.append(finding("medium", "Ingress", name, f"{hosts} on a public ingress ({klass or 'default class'})",
                               "role private_ingress (private ALB class, private domain)"))
    return out


def alb_findings(deployments: list[dict]) -> list[dict]:
    out = []
    for deployment in deployments:
        labels = deployment["metadata"].get("labels") or {}
        alb_type = labels.get("ingress.cloud.ibm.com/alb-type")
        if not alb_type:
            continue
        enabled = (deployment["spec"].get("replicas") or 0) > 0
        name = deployment["metadata"]["name"]
        if alb_type == "public" and enabled:
            out.append(finding("medium", "ALB", name, "public ALB enabled",
                               "secure_cluster_private_ingress: true (role private_ingress: the private ALB on, then "
                               "the public one off; opt-in, as it moves live Ingress traffic)"))
        else:
            out.append(finding("info", "ALB", name, f"{alb_type} ALB {'enabled' if enabled else 'disabled'}", ""))
    return out


def is_edge_node(node: dict, edge_labels: dict) -> bool:
    labels = node["metadata"].get("labels") or {}
    return bool(edge_labels) and all(labels.get(key) == str(value) for key, value in edge_labels.items())


def tolerates_edge(pod: dict, edge_taints: list[dict]) -> bool:
    """Whether the pod tolerates every blocking edge taint, by the scheduler's rule (effects included)."""
    return all(tolerates(pod["spec"].get("tolerations"), {"key": t["key"], "value": t.get("value") or "",
                                                          "effect": t["effect"]})
               for t in edge_taints if t["effect"] in BLOCKING_EFFECTS)


def workload(pod: dict) -> str:
    """``namespace/name`` of what runs the pod (its controller, a Deployment for a ReplicaSet with a
    pod-template-hash), so that a replaced pod is the same thing to drift; the pod itself when nothing owns it."""
    meta = pod["metadata"]
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    if owner is None:
        return f"{meta['namespace']}/{meta['name']}"
    name, template = owner["name"], (meta.get("labels") or {}).get("pod-template-hash")
    if owner.get("kind") == "ReplicaSet" and template and name.endswith(f"-{template}"):
        name = name[:-len(template) - 1]
    return f"{meta['namespace']}/{name}"


def pod_findings(pods: list[dict], nodes: list[dict], edge_labels: dict, edge_taints: list[dict]) -> list[dict]:
    edge = {n["metadata"]["name"] for n in nodes if is_edge_node(n, edge_labels)}
    evicting = [taint_text(t) for t in edge_taints if t["effect"] == "NoExecute"]
    out = []
    for pod in pods:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        if meta.get("deletionTimestamp") or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        name = f"{meta['namespace']}/{meta['name']}"
        system = meta["namespace"] in SYSTEM_NAMESPACES
        found = []
        if spec.get("hostNetwork"):
            found.append(finding("low" if system else "medium", "hostNetwork", name,
                                 "pod shares the node's network namespace", "" if system else
                                 "drop hostNetwork, or run it only on edge nodes"))
        host_ports = [p["hostPort"] for c in spec.get("containers") or [] for p in c.get("ports") or []
                      if p.get("hostPort")]
        if host_ports:
            found.append(finding("low" if system else "medium", "hostPort", name,
                                 f"host port(s) {', '.join(map(str, host_ports))} on the node",
                                 "" if system else "expose through a Service instead of hostPort"))
        if spec.get("nodeName") in edge and not tolerates_edge(pod, edge_taints) and not system:
            found.append(finding("medium", "EdgePlacement", name, f"non-networking pod on edge node "
                                                                  f"{spec['nodeName']}",
                                 f"role edge_nodes (taint {', '.join(evicting) or 'with effect NoExecute'} evicts it)"))
        out += [{**f, "workload": workload(pod)} for f in found]
    return out


def edge_node_findings(nodes: list[dict], edge_labels: dict, edge_taints: list[dict]) -> list[dict]:
    """Edge nodes (by the edge labels) without one of the edge taints: other workloads may be scheduled there
    (NoSchedule) or keep running there (NoExecute)."""
    out = []
    for node in nodes:
        if not is_edge_node(node, edge_labels):
            continue
        has = {(t.get("key"), t.get("value") or "", t.get("effect")) for t in (node.get("spec") or {}).get("taints") or []}
        for taint in edge_taints:
            if (taint["key"], taint.get("value") or "", taint["effect"]) in has:
                continue
            text = taint_text({**taint, "value": taint.get("value") or None})
            out.append(finding("medium" if taint["effect"] in BLOCKING_EFFECTS else "low", "EdgeNode",
                               node["metadata"]["name"], f"edge node without taint {text}: pods without the edge "
                               f"toleration may run on it", "role edge_nodes (it taints the edge nodes)", text))
    return out


def denies_all(policy: dict) -> bool:
    spec = policy.get("spec") or {}
    return spec.get("podSelector") == {} and "Ingress" in (spec.get("policyTypes") or ["Ingress"]) and not spec.get("ingress")


def ingress_path_findings(services: list[dict], ingresses: list[dict], pods: list[dict], namespaces: list[dict],
                          policies: list[dict], nodes: list[dict]) -> list[dict]:
    """Exposed apps that namespace isolation cuts off: a LoadBalancer or NodePort Service whose pods do not
    admit the nodes (where kube-proxy SNATs its traffic from), an Ingress whose backend pods do not admit the
    ingress controller pods. Kubernetes NetworkPolicies only; a namespace without them is not checked."""
    guarded = {p["metadata"]["namespace"] for p in policies}
    labels_of = {n["metadata"]["name"]: n["metadata"].get("labels") or {} for n in namespaces}
    node_ips = [cidr.split("/")[0] for cidr in ingress_path.node_sources(nodes)][:1]
    controllers = [{"namespace": p["metadata"]["namespace"], "pod_labels": p["metadata"].get("labels") or {},
                    "namespace_labels": labels_of.get(p["metadata"]["namespace"], {})}
                   for p in pods if ingress_path.controller_of(p["metadata"].get("labels") or {})]
    pod_labels_in: dict[str, list[dict]] = {}
    for pod in pods:
        pod_labels_in.setdefault(pod["metadata"]["namespace"], []).append(pod["metadata"].get("labels") or {})

    def backends(service: dict) -> list[dict]:
        """Labels of the pods the Service selects (its selector alone when none runs yet)."""
        selector = (service.get("spec") or {}).get("selector") or {}
        if not selector:
            return []
        found = [labels for labels in pod_labels_in.get(service["metadata"]["namespace"], [])
                 if all(labels.get(k) == v for k, v in selector.items())]
        return found or [selector]

    # Only Services in namespaces with policies matter; each one's pods are looked up once.
    targets = {(s["metadata"]["namespace"], s["metadata"]["name"]): (s, backends(s))
               for s in services if s["metadata"]["namespace"] in guarded}

    def reachable(namespace: str, labels_list: list[dict], sources: list[dict]) -> bool:
        return any(ingress_path.admits(policies, namespace, labels, source)
                   for labels in labels_list for source in sources)

    out = []
    for (namespace, name), (service, labels_list) in targets.items():
        kind = (service.get("spec") or {}).get("type")
        if kind not in ingress_path.EXPOSED_TYPES or not node_ips or not labels_list:
            continue
        if reachable(namespace, labels_list, [{"ip": ip} for ip in node_ips]):
            out.append(finding("info", "Service", f"{namespace}/{name}",
                               f"{kind} Service in an isolated namespace, still reachable: its pods admit the nodes, "
                               f"where its traffic arrives from", ""))
        else:
            out.append(finding("medium", "Service", f"{namespace}/{name}",
                               f"{kind} Service cut off by namespace isolation: its pods do not admit the nodes, "
                               f"where its traffic arrives from",
                               "role namespace_isolation with namespace_isolation_ingress_path: true"))
    for ingress in ingresses:
        namespace = ingress["metadata"]["namespace"]
        if namespace not in guarded or not controllers:
            continue
        names = {path.get("backend", {}).get("service", {}).get("name")
                 for rule in (ingress.get("spec") or {}).get("rules") or []
                 for path in (rule.get("http") or {}).get("paths") or []} - {None}
        for name in sorted(names):
            labels_list = targets.get((namespace, name), (None, []))[1]
            if labels_list and not reachable(namespace, labels_list, controllers):
                out.append(finding("medium", "Ingress", f"{namespace}/{ingress['metadata']['name']}",
                                   f"backend {name} cut off by namespace isolation: its pods do not admit the "
                                   f"ingress controller pods", "role namespace_isolation with "
                                   "namespace_isolation_ingress_path: true", f"backend {name}"))
    return out


def namespace_findings(namespaces: list[dict], k8s_policies: list[dict], calico_nps: list[dict]) -> list[dict]:
    isolated = {p["metadata"]["namespace"] for p in k8s_policies if denies_all(p)}
    isolated |= {p["metadata"]["namespace"] for p in calico_nps
                 if (p.get("spec") or {}).get("selector") == "all()" and "Ingress" in ((p.get("spec") or {}).get("types") or [])}
    out = []
    for namespace in namespaces:
        name = namespace["metadata"]["name"]
        if name in SYSTEM_NAMESPACES or name in isolated:
            continue
        out.append(finding("low", "Namespace", name, "no default-deny policy: every pod accepts traffic from any pod",
                           "role namespace_isolation"))
    return out
