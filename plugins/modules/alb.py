#!/usr/bin/python
# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: alb
short_description: Enable or disable application load balancers (ALBs)
version_added: 1.0.0
description:
  - Enables or disables the cluster's ALBs, chosen by ID or by type (public/private) and zone, and waits until
    each has reached the desired state, as IKS reports it - C(enable) true and state C(enabled), or state
    C(disabled). The status is returned, not required to be C(healthy) (IKS reports enabled private ALBs with
    status C(enabled), and ALBs can report C(warning)); an ALB reporting status C(critical) while being enabled
    fails the task.
  - Backend C(iks) uses the IBM Cloud Kubernetes Service API (classic v1 or VPC v2). Backend C(kubernetes) treats
    an ALB as an ingress-controller Deployment; enable scales it to O(replicas), disable to 0.
  - Refuses to disable the last enabled ALB unless O(force).
author:
  - secure_cluster maintainers (@containers-workload)
options:
  state:
    description: Desired state of the chosen ALBs.
    type: str
    choices: [enabled, disabled]
    required: true
  alb_ids:
    description: IDs of the ALBs (backend kubernetes, Deployment names), for example C(private-cr1a2b3c-alb1).
    type: list
    elements: str
  type:
    description: Choose all ALBs of this type (with O(zone), of that zone).
    type: str
    choices: [public, private]
  replicas:
    description:
      - Number of ALB instances when enabling. Compared with what the backend reports, so a second run changes
        nothing.
      - Backend C(iks), classic clusters - sent as C(numOfInstances); an ALB that is already enabled with another
        count is resized (C(resize=true)), and the wait includes the new count.
      - Backend C(iks), VPC clusters (O(platform=vpc)) - refused before any call, since the IKS v2 ALB API has no
        resize; size VPC ALBs with IKS ALB autoscaling.
      - Backend C(kubernetes) - the Deployment's replicas.
    type: int
  force:
    description: Allow disabling the last enabled ALB.
    type: bool
    default: false
  wait:
    description: Wait until the ALBs have reached the desired state.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait; exceeding it fails with each pending ALB's state, status and instances.
    type: int
    default: 600
  poll_interval:
    description: Seconds between status checks while waiting.
    type: float
    default: 5
extends_documentation_fragment:
  - containers_workload.secure_cluster.alb_backend
  - containers_workload.secure_cluster.iks_auth
  - containers_workload.secure_cluster.kube_auth
  - containers_workload.secure_cluster.attributes
  - containers_workload.secure_cluster.attributes.changes
"""

EXAMPLES = r"""
- name: Enable the private ALB and wait until IKS reports it enabled
  containers_workload.secure_cluster.alb:
    type: private
    state: enabled
    cluster: mycluster

- name: Then disable the public ALB
  containers_workload.secure_cluster.alb:
    type: public
    state: disabled
    cluster: mycluster
"""

RETURN = r"""
albs:
  description: All ALBs of the cluster as last seen, each with id, type, zone, enabled, state, status, instances.
  returned: always
  type: list
  elements: dict
changed_albs:
  description: IDs of the ALBs this run enabled or disabled (would, in check mode).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.ibm import alb
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.runner import run_module


def main() -> None:
    run_module("alb", alb.ALB_ARG_SPEC, alb.change, errors=alb.param_errors, mutually_exclusive=[("alb_ids", "type")])


if __name__ == "__main__":
    main()
