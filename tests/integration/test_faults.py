"""Faults around a run: a TCP proxy in front of the API server (tcp_proxy.py) resets or cuts the connections, or
goes away for good, at points spread over the bytes of a clean run of secure-cluster.yml and of rollback.yml.

A single reset or cut must be survived (the run succeeds: the collection retries what is safe to resend). An
outage must fail the run cleanly (a message naming the step, no traceback) without locking anyone out (not every
worker tainted, not every ALB down, no connection to the nodes cut); the rollback afterwards, with the proxy
healthy, must restore the cluster exactly as it was before the first run."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import urllib.parse
from pathlib import Path

import pytest
import yaml

from conftest import REPO, cluster_down, demo_cluster_up, run_playbook, unique
from tcp_proxy import FaultProxy
from test_playbooks import snapshot

INVENTORY = str(REPO / "playbooks" / "inventory" / "local.yml")
# Where the faults fall, as fractions of the bytes a clean run sends through the proxy. Each cycle runs the
# pattern with its faults, then the rollback with its own (none after an outage: that rollback must be clean).
# Resets and cuts come several to a run, each on whatever request is in flight at its mark: each must be
# survived, and the run succeeds.
CYCLES = [
    ((("reset", 0.15), ("cut", 0.55), ("reset", 0.9)), (("cut", 0.35), ("reset", 0.8))),
    ((("outage", 0.3),), ()),
    ((("outage", 0.7),), ()),
]


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """A demo cluster, and a copy of its connection settings that goes through a fault proxy."""
    name = unique("it-faults")
    cluster = demo_cluster_up(name)
    server = urllib.parse.urlsplit(cluster.server)
    proxy = FaultProxy((server.hostname, server.port))
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    for entry in config["clusters"]:
        entry["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"  # the certificate is for 127.0.0.1
    path = tmp_path_factory.mktemp("faults") / "proxied.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    through = dataclasses.replace(cluster, env={**cluster.env, "KUBECONFIG": str(path)})
    yield cluster, through, proxy
    proxy.close()
    cluster_down(name)


def run(through, proxy, playbook: str, reports: Path, faults=(), clean_bytes: int = 0):
    """The playbook through the proxy, with ``faults`` at their fractions of ``clean_bytes``: (result, bytes
    forwarded, faults fired)."""
    proxy.arm(*[(kind, int(clean_bytes * at)) for kind, at in faults])
    result = run_playbook(through, playbook, "-i", INVENTORY, "-e", f"exposure_report_dir={reports}", check=False)
    fired = list(proxy.fired)
    proxy.fired.clear()
    return result, proxy.bytes, fired


def lockouts(cluster, before: dict) -> list[str]:
    """What a failed run must never leave: every worker tainted, every ALB down, a connection to the nodes cut."""
    from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico import guard, resources
    from kubernetes import client
    now = snapshot(cluster)
    found = []
    if all(any(effect in ("NoSchedule", "NoExecute") for unused, unused2, effect in taints)
           for unused3, taints in now["nodes"].values()):
        found.append("every node is tainted")
    albs = [d for d in now["deployments"] if d[0] == "kube-system" and "-alb" in d[1]]
    if albs and not any(replicas for *unused, replicas in albs):
        found.append("every ALB is down")
    custom = client.CustomObjectsApi(cluster.client())

    def reachable():
        policies = [resources.from_crd({"kind": "GlobalNetworkPolicy", **p}) for p in custom.list_cluster_custom_object(
            "crd.projectcalico.org", "v1", "globalnetworkpolicies")["items"]]
        endpoints = [resources.from_crd({"kind": "HostEndpoint", **e}) for e in custom.list_cluster_custom_object(
            "crd.projectcalico.org", "v1", "hostendpoints")["items"]]
        return guard.reachability(policies, endpoints, before["keep_open"], before["failsafe"])
    cut = guard.lockouts(before["reachable"], reachable())
    found += [f"{r['connection']} to {r['host_endpoint']} cut by {r['by']}" for r in cut]
    return found


def keep_open(cluster) -> list[dict]:
    """SSH and the kubelet, from a node's own address (the cluster's range, which the host firewall keeps)."""
    from kubernetes import client
    node = client.CoreV1Api(cluster.client()).list_node().items[0]
    address = next(a.address for a in node.status.addresses if a.type == "InternalIP")
    source = str(ipaddress.ip_network(address))
    return [{"protocol": "TCP", "port": 22, "source": "0.0.0.0/0", "description": "SSH"},
            {"protocol": "TCP", "port": 10250, "source": source, "description": "kubelet"}]


def failed_cleanly(result) -> str | None:
    """The step the failure names, or None when the run did not fail as it should."""
    output = result.stdout + result.stderr
    if result.returncode == 0 or "Traceback" in output:
        return None
    named = re.search(r'"msg": "(?:not reached|([a-z_]+) failed): ([^"]*)', result.stdout)
    if not named or "cannot reach the Kubernetes API server" not in named.group(2):
        return None
    return named.group(1) or "read"


def test_faults_spread_over_a_run_are_survived_or_fail_cleanly_and_the_rollback_restores(proxied, tmp_path, figure):
    from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico import guard, resources
    from kubernetes import client
    cluster, through, proxy = proxied
    before = snapshot(cluster)
    custom = client.CustomObjectsApi(cluster.client())
    endpoints = [resources.from_crd({"kind": "HostEndpoint", **e}) for e in custom.list_cluster_custom_object(
        "crd.projectcalico.org", "v1", "hostendpoints")["items"]]
    policies = [resources.from_crd({"kind": "GlobalNetworkPolicy", **p}) for p in custom.list_cluster_custom_object(
        "crd.projectcalico.org", "v1", "globalnetworkpolicies")["items"]]
    reach = {"keep_open": keep_open(cluster), "failsafe": guard.walk.FAILSAFE_INBOUND}
    reach["reachable"] = guard.reachability(policies, endpoints, reach["keep_open"], reach["failsafe"])

    clean, pattern_bytes, unused = run(through, proxy, "secure-cluster.yml", tmp_path / "clean")
    assert clean.returncode == 0, clean.stdout[-3000:]
    undo, rollback_bytes, unused = run(through, proxy, "playbooks/rollback.yml", tmp_path / "clean")
    assert undo.returncode == 0, undo.stdout[-3000:]
    assert snapshot(cluster) == before
    assert pattern_bytes > 100_000 and rollback_bytes > 10_000, (pattern_bytes, rollback_bytes)

    injected = survived = clean_failures = outages = rollbacks = exact = 0
    problems = []
    for number, (forward, backward) in enumerate(CYCLES):
        where = tmp_path / f"cycle-{number}"
        result, unused, fired = run(through, proxy, "secure-cluster.yml", where, forward, pattern_bytes)
        injected += len(fired)
        if len(fired) < len(forward):
            problems.append(f"pattern {forward}: only {fired} fired")
        elif forward[0][0] == "outage":
            outages += 1
            proxy.heal()
            step = failed_cleanly(result)
            if step is None:
                problems.append(f"pattern {forward}: did not fail cleanly:\n{result.stdout[-2500:]}\n"
                                f"{result.stderr[-1500:]}")
            else:
                clean_failures += 1
            locked = lockouts(cluster, reach)
            if locked:
                problems.append(f"pattern {forward} (failed at {step}): lock-out: {locked}")
        elif result.returncode == 0:
            survived += len(fired)
        else:
            problems.append(f"pattern {forward}: the resets and cuts were not survived:\n{result.stdout[-3000:]}")
        proxy.heal()
        result, unused, fired = run(through, proxy, "playbooks/rollback.yml", where, backward, rollback_bytes)
        injected += len(fired)
        if len(fired) < len(backward):
            problems.append(f"rollback {backward}: only {fired} fired")
        elif backward and result.returncode == 0:
            survived += len(fired)
        elif backward:
            problems.append(f"rollback {backward}: the resets and cuts were not survived:\n{result.stdout[-3000:]}")
        rollbacks += 1
        if result.returncode == 0 and snapshot(cluster) == before:
            exact += 1
        else:
            problems.append(f"cycle {number}: the rollback did not restore the cluster (rc {result.returncode})")
            run(cluster, proxy, "playbooks/rollback.yml", where)  # put it back for the next cycle
    resets = injected - outages
    figure(f"fault injection: {injected} faults injected; {survived} of {resets} resets survived; "
           f"{clean_failures} of {outages} outages failed clean; {exact} of {rollbacks} rollbacks restored exactly")
    assert not problems, "\n\n".join(problems)
