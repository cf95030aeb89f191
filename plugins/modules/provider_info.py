#!/usr/bin/python
# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: provider_info
short_description: Tell which cloud provider runs the cluster
version_added: 0.1.0
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
extends_documentation_fragment:
  - containers_workload.secure_cluster.kube_auth
  - containers_workload.secure_cluster.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
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
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils import providers
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import (
    AUTH_ARG_SPEC, KubeError, connect)


def main() -> None:
    spec = {**AUTH_ARG_SPEC, "provider": {"type": "str", "default": "auto", "choices": ["auto", *providers.PROVIDERS]}}
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    provider = module.params["provider"]
    if provider == "auto":
        try:
            nodes = connect(module.params, agent="secure_cluster/provider_info").get("/api/v1/nodes")["items"]
        except KubeError as exc:
            module.fail_json(msg=str(exc))
        provider = providers.detect(nodes)
    module.exit_json(changed=False, provider=provider,
                     private_annotations=providers.service_annotations(provider, private=True))


if __name__ == "__main__":
    main()
