#!/usr/bin/python
# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_info
short_description: Read one Kubernetes object of a kind the collection manages
version_added: 0.1.0
description:
  - One GET of one object; an object that does not exist is not an error (RV(resources) is empty).
  - The composing role reads its undo record with it (which ALBs a run switched), so a rollback undoes only what
    the pattern did.
  - Supported kinds are those of M(containers_workload.secure_cluster.k8s_apply).
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
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import (
    AUTH_ARG_SPEC, RESOURCES, KubeError, connect, object_path)

ARGUMENT_SPEC = {
    **AUTH_ARG_SPEC,
    "api_version": {"type": "str", "default": "v1"},
    "kind": {"type": "str", "required": True},
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str"},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    key = (params["api_version"], params["kind"])
    if key not in RESOURCES:
        module.fail_json(msg=f"{key[1]} ({key[0]}) is not one of the supported kinds: "
                             + ", ".join(sorted(f"{k} ({v})" for v, k in RESOURCES)))
    if RESOURCES[key][1] and not params["namespace"]:
        module.fail_json(msg=f"{key[1]} {params['name']} is namespaced: give its namespace")
    ref = {"apiVersion": key[0], "kind": key[1], "metadata": {"name": params["name"], "namespace": params["namespace"]}}
    try:
        kube = connect(params, agent="secure_cluster/k8s_info")
        live = kube.get_or_none(object_path(ref))
    except KubeError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, resources=[live] if live is not None else [],
                     api_calls={"reads": kube.reads, "writes": kube.writes})


if __name__ == "__main__":
    main()
