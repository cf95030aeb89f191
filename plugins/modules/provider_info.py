#!/usr/bin/python
# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: provider_info
short_description: Tell which cloud provider runs the cluster
version_added: 1.0.0
description:
  - Reads the nodes (one LIST) and recognises the provider from their C(providerID) (C(ibm://), C(aws://),
    C(gce://), C(azure://), C(digitalocean://)) or from labels only that provider sets (for example
    C(ibm-cloud.kubernetes.io/*)). Roles use it to choose provider-specific annotations.
author:
  - secure_cluster maintainers (@containers-workload)
options:
  provider:
    description: C(auto) detects the provider; a name skips detection (no API call) and only returns its annotations.
    type: str
    choices: [auto, ibm, aws, gcp, azure, digitalocean, none]
    default: auto
  networks:
    description:
      - Also return the cluster's own address ranges (RV(networks)) and where calico-kube-controllers runs
        (RV(calico)), for a host firewall that must keep the cluster talking. Four more reads.
    type: bool
    default: false
  ingress:
    description:
      - Also return where an app's ingress traffic comes from (RV(ingress_sources)), for a namespace isolation
        that must keep the ingress path open. Three more reads.
    type: bool
    default: false
extends_documentation_fragment:
  - containers_workload.secure_cluster.kube_auth
  - containers_workload.secure_cluster.attributes
  - containers_workload.secure_cluster.attributes.info
"""

EXAMPLES = r"""
- name: Which provider is this?
  containers_workload.secure_cluster.provider_info:
  register: cluster_provider
"""

RETURN = r"""
provider:
  description: One of ibm, aws, gcp, azure, digitalocean, or none when not recognised.
  returned: always
  type: str
  sample: ibm
private_annotations:
  description: The annotations that put a LoadBalancer Service on a private IP with this provider.
  returned: always
  type: dict
  sample: {service.kubernetes.io/ibm-load-balancer-cloud-provider-ip-type: private}
networks:
  description:
    - Node InternalIPs, pod CIDRs (node C(podCIDRs) and enabled Calico IP pools), service CIDRs (ServiceCIDR
      objects) and the API server endpoints (EndpointSlices of the C(kubernetes) Service, empty when the
      API server does not publish them).
  returned: when O(networks) is true
  type: dict
  sample: {"node_addresses": ["10.176.48.10"], "pod_cidrs": ["172.30.0.0/16"], "service_cidrs": ["172.21.0.0/16"],
           "api_server": [{"address": "10.176.0.5", "port": 6443}]}
ingress_sources:
  description:
    - C(controllers) are the ingress controllers running in the cluster (IKS ALBs, ingress-nginx, Traefik), each
      with its namespace and the pod label that marks it (C(key), and C(values) or C(null) for the key alone).
    - C(nodes) are the addresses traffic of LoadBalancer and NodePort Services arrives from (node InternalIPs and
      Calico tunnel addresses), C(exposed_namespaces) the namespaces that have such Services.
  returned: when O(ingress) is true
  type: dict
  sample: {"controllers": [{"name": "IKS ALB", "namespace": "kube-system", "key": "ingress.cloud.ibm.com/alb-id",
                            "values": null}],
           "nodes": ["10.176.48.10/32"], "exposed_namespaces": ["shop"]}
calico:
  description: C(kube_controllers) is C(namespace/name) of the calico-kube-controllers Deployment, or empty.
  returned: when O(networks) is true
  type: dict
"""

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.ibm import providers
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import AUTH_ARG_SPEC
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.runner import run_module

ARGUMENT_SPEC = {
    **AUTH_ARG_SPEC,
    "provider": {"type": "str", "default": "auto", "choices": ["auto", *providers.PROVIDERS]},
    "networks": {"type": "bool", "default": False},
    "ingress": {"type": "bool", "default": False},
}


def main() -> None:
    run_module("provider_info", ARGUMENT_SPEC, providers.run)


if __name__ == "__main__":
    main()
