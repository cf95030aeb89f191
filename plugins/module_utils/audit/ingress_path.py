# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ingress path into an isolated namespace: where its traffic comes from, and whether Kubernetes
NetworkPolicies let it in.

Traffic reaches an app through the cluster's ingress controller pods (IKS ALBs, ingress-nginx, Traefik) and,
for Services of type LoadBalancer or NodePort, from the nodes: with ``externalTrafficPolicy: Cluster`` kube-proxy
SNATs it to the node's address (with Calico IPIP or VXLAN, to the node's tunnel address). Used by provider_info
(``ingress: true``, what namespace_isolation admits) and exposure_info (whether isolation cuts an exposed app).
"""

from __future__ import annotations

import ipaddress

# Pod labels that mark an ingress controller, as (key, values): values None means the key alone.
CONTROLLERS = (
    ("IKS ALB", "ingress.cloud.ibm.com/alb-id", None),
    ("ingress-nginx", "app.kubernetes.io/name", ("ingress-nginx",)),
    ("Traefik", "app.kubernetes.io/name", ("traefik",)),
)
TUNNEL_ANNOTATIONS = ("projectcalico.org/IPv4IPIPTunnelAddr", "projectcalico.org/IPv4VXLANTunnelAddr",
                      "projectcalico.org/IPv6VXLANTunnelAddr")
EXPOSED_TYPES = ("LoadBalancer", "NodePort")


def controller_of(labels: dict) -> tuple[str, str, tuple | None] | None:
    for name, key, values in CONTROLLERS:
        if key in labels and (values is None or labels[key] in values):
            return name, key, values
    return None


def ingress_controllers(workloads: list[dict]) -> list[dict]:
    """The ingress controllers running in the cluster: {name, namespace, key, values}, one per kind and namespace."""
    found = {}
    for workload in workloads:
        labels = ((workload.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
        controller = controller_of(labels)
        if controller:
            name, key, values = controller
            found[(name, workload["metadata"]["namespace"])] = {
                "name": name, "namespace": workload["metadata"]["namespace"], "key": key,
                "values": list(values) if values else None}
    return sorted(found.values(), key=lambda c: (c["namespace"], c["name"]))


def node_sources(nodes: list[dict]) -> list[str]:
    """Addresses traffic from a LoadBalancer or NodePort Service comes from, as CIDRs: node InternalIPs and
    Calico tunnel addresses."""
    addresses = {a["address"] for n in nodes for a in (n.get("status") or {}).get("addresses") or []
                 if a.get("type") == "InternalIP"}
    addresses |= {n["metadata"].get("annotations", {}).get(key) for n in nodes for key in TUNNEL_ANNOTATIONS} - {None}
    return sorted(str(ipaddress.ip_network(a)) for a in addresses)


def exposed_namespaces(services: list[dict]) -> list[str]:
    return sorted({s["metadata"]["namespace"] for s in services if (s.get("spec") or {}).get("type") in EXPOSED_TYPES})


def sources(kube, nodes: list[dict]) -> dict:
    """What an isolated namespace must admit to keep its ingress path: three LISTs."""
    workloads = (kube.get("/apis/apps/v1/deployments")["items"] + kube.get("/apis/apps/v1/daemonsets")["items"])
    return {"controllers": ingress_controllers(workloads), "nodes": node_sources(nodes),
            "exposed_namespaces": exposed_namespaces(kube.get("/api/v1/services")["items"])}


# --- Kubernetes NetworkPolicy, ingress side -----------------------------------------------------

def label_selector_matches(selector: dict | None, labels: dict) -> bool:
    """A metav1.LabelSelector (matchLabels, matchExpressions); an empty selector matches everything."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def peer_matches(peer: dict, policy_namespace: str, source: dict) -> bool:
    """Whether a NetworkPolicyPeer admits the source: {ip} or {namespace, namespace_labels, pod_labels}."""
    if "ipBlock" in peer:
        if "ip" not in source:
            return False
        address = ipaddress.ip_address(source["ip"])
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"], strict=False) and not any(
            address in ipaddress.ip_network(e, strict=False) for e in block.get("except") or [])
    if "pod_labels" not in source:
        return False
    if "namespaceSelector" in peer:
        if not label_selector_matches(peer["namespaceSelector"], source["namespace_labels"]):
            return False
    elif source["namespace"] != policy_namespace:
        return False
    return label_selector_matches(peer.get("podSelector"), source["pod_labels"])


def admits(policies: list[dict], namespace: str, pod_labels: dict, source: dict) -> bool:
    """Whether Kubernetes NetworkPolicies let the source reach a pod (any port): a pod no Ingress policy selects
    accepts everything; otherwise one rule of a selecting policy must admit the source."""
    selecting = [p for p in policies if p["metadata"]["namespace"] == namespace
                 and "Ingress" in ((p.get("spec") or {}).get("policyTypes") or ["Ingress"])
                 and label_selector_matches((p.get("spec") or {}).get("podSelector"), pod_labels)]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            peers = rule.get("from")
            if not peers or any(peer_matches(peer, namespace, source) for peer in peers):
                return True
    return False
