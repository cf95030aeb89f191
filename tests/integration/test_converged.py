"""The record of a converged run (the converged module, roles/containers_workload_pattern/tasks/main.yml): a
no-change re-run replays the steps' reads once and skips the steps; any change to what a step reads, to its
inputs or to the IKS ALBs brings every step back, and they repair what drifted. The API server's audit log
judges the writes; the record never holds a secret."""

from __future__ import annotations

import json
import os
import stat
import urllib.parse
import urllib.request

from conftest import REPO, module_cluster, run_playbook

cluster = module_cluster("it-conv")

PSK = "converged-test-pre-shared-key-long-enough"
VARS = {"strongswan_vpn_remote_subnet": ["10.93.0.0/24"], "strongswan_vpn_remote_gateway": "198.51.100.7",
        "strongswan_vpn_preshared_secret": PSK}
REPLAY = "Replay what the steps read when they last had nothing to do"
STEP_TASK = "TASK [containers_workload.secure_cluster.edge_nodes"


def pattern(cluster_, tmp_path, *extra: str):
    """secure-cluster.yml (every step on, the VPN too) with -v; returns (process, the replay's result)."""
    done = run_playbook(cluster_, "secure-cluster.yml", "-v", "-i", str(REPO / "playbooks" / "inventory" / "local.yml"),
                        "-e", f"exposure_report_dir={tmp_path}", "-e", json.dumps(VARS), *extra)
    lines = done.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if REPLAY in line)
    result = next(line for line in lines[at + 1:] if line.startswith(("ok: [", "skipping: [")))
    return done, json.loads(result.split(" => ", 1)[1])


def iks(cluster_, method: str, path: str, body=None):
    """The IKS API (the emulator) as a user's script calls it: an IAM token for the API key, then the call."""
    base = cluster_.env["IKS_API_URL"]
    form = urllib.parse.urlencode({"grant_type": "urn:ibm:params:oauth:grant-type:apikey",
                                   "apikey": cluster_.env["IBMCLOUD_API_KEY"]}).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{base}/identity/token", data=form), timeout=30) as answer:
        token = json.loads(answer.read())["access_token"]
    request = urllib.request.Request(f"{base}{path}", method=method, data=None if body is None else json.dumps(
        body).encode(), headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        payload = answer.read()
    return json.loads(payload) if payload else None


def edge_taints(cluster_) -> dict:
    from kubernetes import client
    nodes = client.CoreV1Api(cluster_.client()).list_node(label_selector="dedicated=edge").items
    return {n.metadata.name: sorted((t.key, t.effect) for t in n.spec.taints or []) for n in nodes}


def test_a_no_change_rerun_replays_the_record_and_any_change_brings_the_steps_back(cluster, tmp_path):
    first, replay = pattern(cluster, tmp_path)
    assert replay["converged"] is False and replay["reason"] == "no record of a converged run"
    record = tmp_path / ".records" / "local-demo.json"
    assert stat.S_IMODE(os.stat(record).st_mode) == 0o600
    text = record.read_text()
    for secret in (PSK, cluster.env["IBMCLOUD_API_KEY"]):
        assert secret not in text and secret not in first.stdout
    saved = json.loads(text)
    assert {"GET /api/v1/nodes", "GET /v1/alb/clusters/" + cluster.env["IKS_CLUSTER"]} <= {
        f"{r['method']} {r['path']}" for r in saved["reads"]}
    assert not list((tmp_path / ".records").glob("local-demo.journal*")), "the run's journal was left"

    # Nothing changed: one replay, the audit, no step, no write.
    mark = cluster.audit_mark()
    again, replay = pattern(cluster, tmp_path)
    assert replay["converged"] is True, replay
    assert replay["reads"] == len(saved["reads"])
    assert STEP_TASK not in again.stdout and "changed=0" in again.stdout
    assert cluster.writes_since(mark) == []
    reads = [e for e in cluster.audit_events("secure_cluster/converged", mark) if e["verb"] in ("get", "list")]
    assert len(reads) == len({e["requestURI"] for e in reads}), "a read was replayed twice"
    after = (tmp_path / "local-demo-after.md").read_text()
    assert after.startswith("# Exposure report: local-demo (after)")
    fleet = (tmp_path / "fleet.md").read_text()
    row = next(line for line in fleet.splitlines() if line.startswith("| `local-demo` |"))
    assert row.count("unchanged") == 8, row  # every step that is on: unchanged, none "not run"
    assert "not run" not in row
    assert (tmp_path / "local-demo-before.md").read_text().startswith("# Exposure report: local-demo (before)")

    # Someone takes the taints off an edge node: the replay sees the nodes answer differently, every step runs,
    # and the edge step puts the taints back.
    from kubernetes import client
    tainted = edge_taints(cluster)
    name = sorted(tainted)[0]
    client.CoreV1Api(cluster.client()).patch_node(name, {"spec": {"taints": None}})
    assert edge_taints(cluster)[name] == []
    repaired, replay = pattern(cluster, tmp_path)
    assert replay["converged"] is False and "/api/v1/nodes" in replay["reason"], replay
    assert STEP_TASK in repaired.stdout and "changed=0" not in repaired.stdout
    assert edge_taints(cluster) == tainted

    # The repair made a new record: the next run skips the steps again.
    unused, replay = pattern(cluster, tmp_path)
    assert replay["converged"] is True, replay

    # The public ALB turned back on behind the pattern's back (the IKS API): the steps run and turn it off.
    public = [a for a in iks(cluster, "GET", f"/v1/alb/clusters/{cluster.env['IKS_CLUSTER']}")["alb"]
              if a["albType"] == "public"]
    assert public and not any(a["enable"] for a in public)
    iks(cluster, "POST", "/v1/alb/albs", {"albID": public[0]["albID"], "enable": True})
    reopened, replay = pattern(cluster, tmp_path)
    # (the emulator also scales the ALB's Deployment, which the replay may see first)
    assert replay["converged"] is False and "answers differently" in replay["reason"], replay
    assert not any(a["enable"] for a in iks(cluster, "GET", f"/v1/alb/clusters/{cluster.env['IKS_CLUSTER']}")["alb"]
                   if a["albType"] == "public")

    # An input changes (even to its default): every step runs and decides, changing nothing.
    mark = cluster.audit_mark()
    changed_input, replay = pattern(cluster, tmp_path, "-e", "secure_cluster_fail_on=none")
    assert replay["converged"] is False and "inputs" in replay["reason"], replay
    assert STEP_TASK in changed_input.stdout and "changed=0" in changed_input.stdout
    assert cluster.writes_since(mark) == []

    # Check mode with the same inputs: the record holds, nothing is written, the record stays as it was.
    kept = record.read_text()
    checked, replay = pattern(cluster, tmp_path, "-e", "secure_cluster_fail_on=none", "--check")
    assert replay["converged"] is True, replay
    assert record.read_text() == kept and "changed=0" in checked.stdout


def test_the_switch_off_runs_every_step_and_keeps_no_record(cluster, tmp_path):
    done, replay = pattern(cluster, tmp_path, "-e", "secure_cluster_converged_record=false")
    assert "converged" not in replay and replay["false_condition"] == "containers_workload_pattern_converged_record | bool"
    assert STEP_TASK in done.stdout  # every step ran (on a fresh cluster of its own when run alone)
    assert not (tmp_path / ".records").exists()
