# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host_firewall_plan filter: the host firewall's ranges and connections to keep (documented beside it)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.host_firewall import firewall_plan


def host_firewall_plan(networks, api_server_nets=(), cluster_nets=(), admin_nets=(), keep_open=()):
    try:
        return firewall_plan(networks, api_server_nets, cluster_nets, admin_nets, keep_open)
    except (ValueError, KeyError, TypeError) as exc:
        raise AnsibleFilterError(f"host_firewall_plan: {exc}") from None


class FilterModule:
    def filters(self):
        return {"host_firewall_plan": host_firewall_plan}
