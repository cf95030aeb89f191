# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options alb and alb_info share: the backend and how ALBs are found."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  backend:
    description: Where ALBs are managed.
    type: str
    choices: [iks, kubernetes]
    default: iks
  zone:
    description: With O(type), only ALBs of this zone.
    type: str
  namespace:
    description: Backend kubernetes, the namespace of the ingress-controller Deployments.
    type: str
    default: kube-system
  alb_selector:
    description: Backend kubernetes, the label selector of the ingress-controller Deployments.
    type: str
    default: ingress.cloud.ibm.com/alb-id
"""
