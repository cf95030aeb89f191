#!/usr/bin/python
# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_apply
short_description: Apply or delete many Kubernetes objects in one task
version_added: 0.1.0
description:
  - The small generic apply the collection's roles use for Services, Ingresses and NetworkPolicies.
  - For each object, one GET; only when the object differs from the definition (fields it sets, compared with
    what the API server holds), one server-side apply PATCH with the field manager. Nothing is written when
    nothing differs.
  - With O(state=absent), deletes the objects that exist and waits until they are gone.
  - Supported kinds are Namespace, ServiceAccount, ConfigMap, Secret, Service, Deployment, DaemonSet, Role,
    RoleBinding, NetworkPolicy and Ingress. Every definition is checked before the first request.
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import (
    AUTH_ARG_SPEC, RESOURCES, KubeError, connect, ensure_objects)

ARGUMENT_SPEC = {
    **AUTH_ARG_SPEC,
    "definitions": {"type": "list", "elements": "dict", "required": True},
    "state": {"type": "str", "choices": ["present", "absent", "released"], "default": "present"},
    "field_manager": {"type": "str", "default": "secure_cluster"},
    "wait_timeout": {"type": "int", "default": 120},
}


def definition_errors(definitions: list[dict]) -> list[str]:
    errors = []
    for index, obj in enumerate(definitions):
        where = f"definitions[{index}]"
        key = (obj.get("apiVersion"), obj.get("kind"))
        name = (obj.get("metadata") or {}).get("name")
        if key not in RESOURCES:
            errors.append(f"{where}: {key[1]} ({key[0]}) is not one of the supported kinds: "
                          + ", ".join(sorted(f"{k} ({v})" for v, k in RESOURCES)))
            continue
        if not name:
            errors.append(f"{where}: metadata.name is required")
        if RESOURCES[key][1] and not (obj.get("metadata") or {}).get("namespace"):
            errors.append(f"{where} ({key[1]} {name}): metadata.namespace is required")
    return errors


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    definitions = module.params["definitions"]
    errors = definition_errors(definitions)
    if errors:
        module.fail_json(msg="; ".join(errors))
    try:
        kube = connect(module.params, agent="secure_cluster/k8s_apply")
        result = ensure_objects(kube, definitions, module.params["state"], module.check_mode,
                                module.params["field_manager"], module.params["wait_timeout"])
    except KubeError as exc:
        module.fail_json(msg=str(exc))
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
