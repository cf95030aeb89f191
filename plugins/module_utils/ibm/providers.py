# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cloud providers: how to recognise one from its nodes, and how it makes a LoadBalancer Service private."""

from __future__ import annotations

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import ingress_path

IBM_IP_TYPE = "service.kubernetes.io/ibm-load-balancer-cloud-provider-ip-type"
IBM_ZONE = "service.kubernetes.io/ibm-load-balancer-cloud-provider-zone"
IBM_VLAN = "service.kubernetes.io/ibm-load-balancer-cloud-provider-vlan"
# What makes a LoadBalancer Service private on each provider (public needs no annotation there).
PRIVATE_ANNOTATIONS = {
    "aws": {"service.beta.kubernetes.io/aws-load-balancer-internal": "true"},
    "gcp": {"networking.gke.io/load-balancer-type": "Internal"},
    "azure": {"service.beta.kubernetes.io/azure-load-balancer-internal": "true"},
    "digitalocean": {"service.beta.kubernetes.io/do-loadbalancer-network": "INTERNAL"},
    "none": {},
}
PROVIDERS = ("ibm", *PRIVATE_ANNOTATIONS)
# providerID prefixes set by each cloud's node controller, and labels only that provider puts on nodes.
PROVIDER_IDS = {"ibm://": "ibm", "aws://": "aws", "gce://": "gcp", "azure://": "azure", "digitalocean://": "digitalocean"}
PROVIDER_LABELS = {"ibm-cloud.kubernetes.io/": "ibm", "eks.amazonaws.com/": "aws", "cloud.google.com/gke": "gcp",
                   "kubernetes.azure.com/": "azure", "doks.digitalocean.com/": "digitalocean"}


def detect(nodes: list[dict]) -> str:
    """The provider of a cluster, from its nodes' providerID or provider-specific labels; 'none' if unknown."""
    for node in nodes:
        provider_id = node.get("spec", {}).get("providerID") or ""
        for prefix, provider in PROVIDER_IDS.items():
            if provider_id.startswith(prefix):
                return provider
        for key in node["metadata"].get("labels") or {}:
            for prefix, provider in PROVIDER_LABELS.items():
                if key.startswith(prefix):
                    return provider
    return "none"


def service_annotations(provider: str, private: bool, zone: str | None = None, vlan: str | None = None) -> dict:
    """Annotations that make a LoadBalancer Service private (or, on IBM, explicitly public)."""
    if provider == "ibm":
        annotations = {IBM_IP_TYPE: "private" if private else "public"}
        if zone:
            annotations[IBM_ZONE] = zone
        if vlan:
            annotations[IBM_VLAN] = str(vlan)
        return annotations
    return dict(PRIVATE_ANNOTATIONS[provider]) if private else {}


KUBE_CONTROLLERS = (("calico-system", "calico-kube-controllers"), ("kube-system", "calico-kube-controllers"))


def cluster_networks(kube, nodes: list[dict]) -> dict:
    """The cluster's own address ranges, which a host firewall must keep open to the cluster: node InternalIPs,
    pod CIDRs (node podCIDRs and Calico IP pools), service CIDRs (ServiceCIDR objects, Kubernetes 1.33+)
    and the API server's endpoints (the ``kubernetes`` Service's EndpointSlices)."""
    node_addresses = sorted({a["address"] for n in nodes for a in (n.get("status") or {}).get("addresses") or []
                             if a.get("type") == "InternalIP"})
    pods = {c for n in nodes for c in (n.get("spec") or {}).get("podCIDRs") or []}
    pools = kube.get_or_none("/apis/crd.projectcalico.org/v1/ippools") or {}
    pods |= {p["spec"]["cidr"] for p in pools.get("items") or [] if not p["spec"].get("disabled")}
    cidrs = kube.get_or_none("/apis/networking.k8s.io/v1/servicecidrs") or {}
    services = sorted({c for s in cidrs.get("items") or [] for c in (s.get("spec") or {}).get("cidrs") or []})
    slices = kube.get_or_none("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
                              query={"labelSelector": "kubernetes.io/service-name=kubernetes"}) or {}
    api_server = [{"address": address, "port": port["port"]}
                  for s in slices.get("items") or [] for e in s.get("endpoints") or []
                  for address in e.get("addresses") or [] for port in (s.get("ports") or [])[:1]]
    return {"node_addresses": node_addresses, "pod_cidrs": sorted(pods), "service_cidrs": services,
            "api_server": api_server}


def calico_components(kube) -> dict:
    """Where calico-kube-controllers runs (it creates automatic HostEndpoints), if anywhere."""
    for namespace, name in KUBE_CONTROLLERS:
        if kube.get_or_none(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"):
            return {"kube_controllers": f"{namespace}/{name}"}
    return {"kube_controllers": ""}


def run(run) -> dict:
    """The provider_info module: the provider (given or detected), its private annotations, the networks."""
    params, provider, out = run.params, run.params["provider"], {}
    if provider == "auto" or params["networks"] or params["ingress"]:
        nodes = run.kube.get("/api/v1/nodes")["items"]
        if params["networks"]:
            out = {"networks": cluster_networks(run.kube, nodes), "calico": calico_components(run.kube)}
        if params["ingress"]:
            out["ingress_sources"] = ingress_path.sources(run.kube, nodes)
        if provider == "auto":
            provider = detect(nodes)
    return {"provider": provider, "private_annotations": service_annotations(provider, private=True), **out}
