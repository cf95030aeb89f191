# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lock-out guard and the order report: what a run would do to connections and to policy order,
worked out before any write from the policies as they will be."""

from __future__ import annotations

import ipaddress

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico import validation, walk
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.api import key_of
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.resources import CalicoError, from_crd


def policies_after(steps: list[dict], live: dict, state: str) -> tuple[tuple[list[dict], list[dict]], list]:
    """The v3 GlobalNetworkPolicies Felix enforces before and after this run, and the live ones it ignores
    because they are invalid (name, errors): Felix treats those as missing, so the walk does too."""
    stored = {k: from_crd(v) for k, v in live.items() if k[0] == "GlobalNetworkPolicy"}
    valid, invalid = validation.enforced(list(stored.values()))
    enforced_ids = {id(policy) for policy in valid}
    before = {k: v for k, v in stored.items() if id(v) in enforced_ids}
    after = dict(before)
    for step in steps:
        if step["desired"]["kind"] != "GlobalNetworkPolicy":
            continue
        if state == "absent":
            after.pop(key_of(step["desired"]), None)
        else:
            after[key_of(step["desired"])] = step["desired"]
    ignored = [(policy["metadata"]["name"], errors) for policy, errors in invalid]
    return (list(before.values()), list(after.values())), ignored


def endpoints_after(steps: list[dict], live: dict, state: str) -> list[dict]:
    endpoints = {k: from_crd(v) for k, v in live.items() if k[0] == "HostEndpoint"}
    for step in steps:
        if step["desired"]["kind"] == "HostEndpoint":
            if state == "absent":
                endpoints.pop(key_of(step["desired"]), None)
            else:
                endpoints[key_of(step["desired"])] = step["desired"]
    return list(endpoints.values())


def keep_open_errors(entries: list[dict]) -> list[str]:
    errors = []
    for number, entry in enumerate(entries):
        where = f"keep_open[{number}]"
        if entry.get("protocol") not in ("TCP", "UDP", "SCTP"):
            errors.append(f"{where}.protocol '{entry.get('protocol')}' is not TCP, UDP or SCTP")
        if not isinstance(entry.get("port"), int) or not 1 <= entry["port"] <= 65535:
            errors.append(f"{where}.port '{entry.get('port')}' is not a port 1-65535")
        try:
            ipaddress.ip_network(entry.get("source") or "", strict=False)
        except ValueError:
            errors.append(f"{where}.source '{entry.get('source')}' is not a CIDR")
    return errors


def failsafe_ports(store) -> tuple:
    """Felix's inbound failsafe ports: FelixConfiguration ``default`` (read through the run's backend) if it
    sets them, else Calico's default."""
    spec = store.felix_configuration()
    if "failsafeInboundHostPorts" in spec:
        return tuple(spec["failsafeInboundHostPorts"] or ())
    return walk.FAILSAFE_INBOUND


def reachability(policies: list[dict], endpoints: list[dict], keep_open: list[dict], failsafe) -> list[dict]:
    """For each connection to keep and each host endpoint: allowed or not, and by what."""
    out = []
    for entry in keep_open:
        packet = {"protocol": entry["protocol"], "port": entry["port"],
                  "source": ipaddress.ip_network(entry["source"], strict=False)}
        for endpoint in endpoints:
            found = walk.verdict(policies, endpoint, packet, failsafe)
            out.append({"connection": entry.get("description") or f"{entry['protocol']}/{entry['port']}",
                        "protocol": entry["protocol"], "port": entry["port"], "source": entry["source"],
                        "host_endpoint": endpoint["metadata"]["name"], **found})
    return out


def lockouts(before: list[dict], after: list[dict]) -> list[dict]:
    """Connections this run would cut: allowed before, denied after."""
    was_open = {(r["connection"], r["host_endpoint"]) for r in before if r["allowed"]}
    return [r for r in after if not r["allowed"] and (r["connection"], r["host_endpoint"]) in was_open]


def order_report(steps: list[dict], policies: list[dict]) -> tuple[list[str], list[str]]:
    """Where the run's policies sit among the others: clashes (equal orders, which Calico breaks by name) and
    other policies that allow ingress before one of the run's policies denies it."""
    clashes, allowed_before = [], []
    for step in steps:
        desired = step["desired"]
        if desired["kind"] != "GlobalNetworkPolicy":
            continue
        spec, name = desired["spec"], desired["metadata"]["name"]
        for other in policies:
            other_spec, other_name = other.get("spec") or {}, other["metadata"]["name"]
            if other_name == name or walk.stage(other_spec) != walk.stage(spec):
                continue
            if spec.get("order") is not None and other_spec.get("order") == spec.get("order"):
                clashes.append(f"{name} has the same order ({spec['order']}) as {other_name}: Calico applies "
                               f"them by name; give {name} its own order")
            denies = any(r.get("action") == "Deny" for r in spec.get("ingress") or [])
            allows = any(r.get("action") == "Allow" for r in other_spec.get("ingress") or [])
            if denies and allows and walk.ordered([other, desired])[0] is other:
                allowed_before.append(f"{other_name} (order {other_spec.get('order', 'none')}) allows ingress "
                                      f"and is applied before {name} (order {spec.get('order', 'none')}): what it "
                                      f"allows is not denied by {name}")
    return clashes, allowed_before


def refuse_lockouts(run, store, steps: list[dict], live: dict, policies: tuple[list[dict], list[dict]]) -> list[dict]:
    """Refuse (before any write) a run that cuts a connection the user asked to keep open; returns the
    reachability of every connection to keep after the run."""
    params = run.params
    failsafe = failsafe_ports(store)
    before = reachability(policies[0], endpoints_after([], live, "present"), params["keep_open"], failsafe)
    after = reachability(policies[1], endpoints_after(steps, live, params["state"]), params["keep_open"], failsafe)
    if not after:
        run.warn("keep_open: no HostEndpoint exists, so no host is firewalled yet and nothing could be cut")
    cut = lockouts(before, after)
    if cut and not params["allow_lockout"]:
        lines = [f"{r['connection']} ({r['protocol']}/{r['port']} from {r['source']}) to {r['host_endpoint']} "
                 f"would be denied by {r['by']}" for r in cut[:5]]
        more = f" and {len(cut) - 5} more" if len(cut) > 5 else ""
        raise CalicoError("refusing a change that would lock you out: " + "; ".join(lines) + more
                          + ". Allow these connections, or set allow_lockout=true", {"reachability": after})
    return after
