# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cloud providers: how to recognise one from its nodes, and how it makes a LoadBalancer Service private."""

from __future__ import annotations

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
