# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Arguments and backend choice shared by the alb and alb_info modules."""

from __future__ import annotations

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils import alb, iks
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import AUTH_ARG_SPEC, connect

INFO_ARG_SPEC = {
    **AUTH_ARG_SPEC,
    **iks.IKS_ARG_SPEC,
    "backend": {"type": "str", "choices": ["iks", "kubernetes"], "default": "iks"},
    "alb_ids": {"type": "list", "elements": "str"},
    "type": {"type": "str", "choices": ["public", "private"]},
    "zone": {"type": "str"},
    "namespace": {"type": "str", "default": "kube-system"},
    "alb_selector": {"type": "str", "default": "ingress.cloud.ibm.com/alb-id"},
}
ALB_ARG_SPEC = {
    **INFO_ARG_SPEC,
    "state": {"type": "str", "choices": ["enabled", "disabled"], "required": True},
    "replicas": {"type": "int"},
    "force": {"type": "bool", "default": False},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int", "default": 600},
    "poll_interval": {"type": "float", "default": 5},
}


def make_backend(params: dict):
    if params["backend"] == "iks":
        return alb.IksBackend(params)
    return alb.KubernetesBackend(connect(params, agent="secure_cluster/alb"), params)
