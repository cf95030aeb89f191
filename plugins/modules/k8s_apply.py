#!/usr/bin/python
# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_apply
short_description: Apply or delete many Kubernetes objects in one task
version_added: 1.0.0
description:
  - Applies any kind the cluster serves (built-in kinds, and custom resources of installed CRDs), as the
    collection's roles do for Services, Ingresses, NetworkPolicies and Calico's KubeControllersConfiguration.
  - For each object, one GET; only when the object differs from the definition (fields it sets, compared with
    what the API server holds), one server-side apply PATCH with the field manager. Nothing is written when
    nothing differs.
  - With O(state=absent), deletes the objects that exist and waits until they are gone.
  - Kinds beyond the common built-in ones are looked up with API discovery, one request per API group and
    version, cached for the run. Every definition is checked (fields, served kind, namespace for namespaced kinds)
    before the first write.
author:
  - secure_cluster maintainers (@containers-workload)
options:
  definitions:
    description: The objects, each with apiVersion, kind, metadata.name (and metadata.namespace when namespaced).
    type: list
    elements: dict
    required: true
  state:
    description:
      - Whether the objects should exist.
      - V(released) undoes what O(field_manager) made, as a rollback should - objects only it set are deleted;
        on objects that others set too (a Service that existed before the run), it gives up only its own fields
        (a server-side apply of the bare name), and what the others set stays as it was.
    type: str
    choices: [present, absent, released]
    default: present
  field_manager:
    description: Field manager of the server-side apply.
    type: str
    default: secure_cluster
  wait_timeout:
    description: With O(state=absent), seconds to wait for the objects to be gone.
    type: int
    default: 120
extends_documentation_fragment:
  - containers_workload.secure_cluster.kube_auth
  - containers_workload.secure_cluster.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Secret data is masked.
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: A private LoadBalancer Service and its Ingress
  containers_workload.secure_cluster.k8s_apply:
    definitions:
      - apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: shop}
        spec:
          type: LoadBalancer
          selector: {app: web}
          ports: [{port: 80, targetPort: 8080}]
"""

RETURN = r"""
objects:
  description: Each object (kind, namespace, name) and whether it changed.
  returned: always
  type: list
  elements: dict
  sample: [{kind: Service, namespace: shop, name: web, changed: true}]
"""

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import apply as k8s_apply
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import AUTH_ARG_SPEC
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.runner import run_module

ARGUMENT_SPEC = {
    **AUTH_ARG_SPEC,
    "definitions": {"type": "list", "elements": "dict", "required": True},
    "state": {"type": "str", "choices": ["present", "absent", "released"], "default": "present"},
    "field_manager": {"type": "str", "default": "secure_cluster"},
    "wait_timeout": {"type": "int", "default": 120},
}


def main() -> None:
    run_module("k8s_apply", ARGUMENT_SPEC, k8s_apply.run, errors=k8s_apply.param_errors)


if __name__ == "__main__":
    main()
