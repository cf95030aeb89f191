#!/usr/bin/python
# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: alb_info
short_description: List the cluster's application load balancers (ALBs)
version_added: 1.0.0
description:
  - Lists ALBs with their type, zone, whether they are enabled, their state and health, like
    C(ibmcloud ks ingress alb ls). Read-only.
  - Backend C(iks) asks the IBM Cloud Kubernetes Service API; backend C(kubernetes) reads the
    ingress-controller Deployments.
author:
  - secure_cluster maintainers (@containers-workload)
options:
  alb_ids:
    description: Only these ALBs.
    type: list
    elements: str
  type:
    description: Only ALBs of this type.
    type: str
    choices: [public, private]
extends_documentation_fragment:
  - containers_workload.secure_cluster.alb_backend
  - containers_workload.secure_cluster.iks_auth
  - containers_workload.secure_cluster.kube_auth
  - containers_workload.secure_cluster.attributes
  - containers_workload.secure_cluster.attributes.info
"""

EXAMPLES = r"""
- name: List the ALBs
  containers_workload.secure_cluster.alb_info:
    cluster: mycluster
  register: albs

- name: Show the enabled ones
  ansible.builtin.debug:
    msg: "{{ albs.albs | selectattr('enabled') | map(attribute='id') | list }}"
"""

RETURN = r"""
albs:
  description: The ALBs, each with id, type, zone, enabled, state, status, instances.
  returned: always
  type: list
  elements: dict
  sample:
    - {id: private-cr1a2b3c-alb1, type: private, zone: dal10, enabled: false, state: disabled, status: disabled,
       instances: 2}
"""

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.ibm import alb
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.runner import run_module


def main() -> None:
    run_module("alb_info", alb.INFO_ARG_SPEC, alb.info, errors=alb.param_errors, mutually_exclusive=[("alb_ids", "type")])


if __name__ == "__main__":
    main()
