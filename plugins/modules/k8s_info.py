#!/usr/bin/python
# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_info
short_description: Read one Kubernetes object of any kind the cluster serves
version_added: 1.0.0
description:
  - One GET of one object; an object that does not exist is not an error (RV(resources) is empty).
  - The composing role reads its undo record with it (which ALBs a run switched), so a rollback undoes only what
    the pattern did.
  - Any kind the cluster serves, as for M(containers_workload.secure_cluster.k8s_apply); common built-in kinds
    directly, others through API discovery (one more read).
author:
  - secure_cluster maintainers (@containers-workload)
options:
  api_version:
    description: API version of the object, for example V(v1).
    type: str
    default: v1
  kind:
    description: Kind of the object, for example V(ConfigMap).
    type: str
    required: true
  name:
    description: Name of the object.
    type: str
    required: true
  namespace:
    description: Namespace of the object (namespaced kinds).
    type: str
extends_documentation_fragment:
  - containers_workload.secure_cluster.kube_auth
  - containers_workload.secure_cluster.attributes
  - containers_workload.secure_cluster.attributes.info
"""

EXAMPLES = r"""
- name: Read the pattern's undo record
  containers_workload.secure_cluster.k8s_info:
    kind: ConfigMap
    namespace: kube-system
    name: secure-cluster-undo
  register: undo_record
"""

RETURN = r"""
resources:
  description: The object as the API server returns it, or an empty list when it does not exist.
  returned: always
  type: list
  elements: dict
  sample: [{apiVersion: v1, kind: ConfigMap, metadata: {name: secure-cluster-undo, namespace: kube-system},
            data: {disabled_public_albs: public-cr1234-alb1}}]
"""

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import apply as k8s_apply
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import AUTH_ARG_SPEC
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.runner import run_module

ARGUMENT_SPEC = {
    **AUTH_ARG_SPEC,
    "api_version": {"type": "str", "default": "v1"},
    "kind": {"type": "str", "required": True},
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str"},
}


def main() -> None:
    run_module("k8s_info", ARGUMENT_SPEC, k8s_apply.info)


if __name__ == "__main__":
    main()
