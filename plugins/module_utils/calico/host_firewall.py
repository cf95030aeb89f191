# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host firewall's network maths: which ranges the cluster talks from, and which connections a run
must never cut (SSH from the admin networks, the kubelet from the API server, the API server on the nodes)."""

from __future__ import annotations

import ipaddress


def as_cidr(address: str) -> str:
    """An address or a network as a CIDR, host bits kept as given (``10.0.0.5`` -> ``10.0.0.5/32``)."""
    text = str(address).strip()
    if "/" in text:
        return text
    return f"{text}/{ipaddress.ip_address(text).max_prefixlen}"


def unique(items) -> list:
    """The items in their first order, each once."""
    return list(dict.fromkeys(items))


def firewall_plan(networks: dict | None, api_server_nets=(), cluster_nets=(), admin_nets=(), keep_open=()) -> dict:
    """What the host firewall allows and keeps open, from the networks ``provider_info`` read.

    Returns ``allowed`` (every cluster range as a CIDR), ``allowed_v4`` / ``allowed_v6`` (the same by IP version,
    one Calico rule each), ``api_server`` (where the API server connects to kubelets from) and ``keep_open``
    (the connections the lock-out guard must find open after the run).
    """
    found = networks or {}
    endpoints = found.get("api_server") or []
    api = unique(as_cidr(n) for n in [*api_server_nets, *(e["address"] for e in endpoints)])
    allowed = unique(as_cidr(n) for n in [*(found.get("node_addresses") or []), *(found.get("pod_cidrs") or []),
                                          *(found.get("service_cidrs") or []), *api, *cluster_nets])
    keep = [{"protocol": "TCP", "port": 22, "source": net, "description": f"SSH from {net}"} for net in admin_nets]
    keep += [{"protocol": "TCP", "port": 10250, "source": net, "description": f"kubelet from the API server {net}"}
             for net in api]
    nodes = set(found.get("node_addresses") or [])
    keep += [{"protocol": "TCP", "port": e["port"], "source": "0.0.0.0/0",
              "description": f"the API server on {e['address']}"} for e in endpoints if e["address"] in nodes]
    keep += [dict(entry) for entry in keep_open]
    return {"allowed": allowed, "allowed_v4": [n for n in allowed if ":" not in n],
            "allowed_v6": [n for n in allowed if ":" in n], "api_server": api, "keep_open": keep}
