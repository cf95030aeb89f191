"""What a user of each supported ansible-core gets: the collection installed from its tarball, secure-cluster.yml
on an IKS-profile cluster, a no-change re-run, and mistakes that stop the run with a message and no traceback.

`tests/matrix/run` runs this file in the virtualenv of every release of the range (tests/matrix/releases), with
ANSIBLE_COLLECTIONS_PATH and the Python path pointing at the collection installed there from the tarball.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from ansible.release import __version__ as ANSIBLE_VERSION

from conftest import REPO, module_cluster, run_playbook

PLAYBOOK = "containers_workload.secure_cluster.secure_cluster"
INVENTORY = str(REPO / "playbooks" / "inventory" / "local.yml")
RELEASE = tuple(int(part) for part in ANSIBLE_VERSION.split(".")[:2])
# Where the modules run in the controller's Python (plugin_utils/in_process.py); elsewhere the usual way.
IN_PROCESS = RELEASE in ((2, 16), (2, 17), (2, 18), (2, 19), (2, 20), (2, 21))
MODULE_RUNS_HERE = "the module runs in the controller's Python (in process)"
MODULE_RUNS_APART = "a new Python process runs the module"
LOCKDOWN = "deny-kube-node-port-services"  # nodeport_lockdown_name's default

pytestmark = pytest.mark.skipif(not os.environ.get("SECURE_CLUSTER_MATRIX"),
                                reason="run by tests/matrix/run, with the collection installed from the tarball")


cluster = module_cluster("it-release")


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    """The first run with -vvv, then the same run again, each with the audit log's writes."""
    reports = tmp_path_factory.mktemp("reports")
    out = {}
    for run, extra in (("first", ("-vvv",)), ("again", ())):
        mark = cluster.audit_mark()
        result = run_playbook(cluster, PLAYBOOK, "-i", INVENTORY, "-e", f"exposure_report_dir={reports}", *extra)
        out[run] = (result, cluster.writes_since(mark))
    out["reports"] = reports
    return out


def recap(stdout: str) -> dict:
    line = re.search(r"^local-demo\s+:\s+(.*)$", stdout, re.MULTILINE).group(1)
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line)}


def test_the_collection_comes_from_the_tarball():
    from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import client as kube
    installed = os.environ["ANSIBLE_COLLECTIONS_PATH"]
    assert Path(kube.__file__).resolve().is_relative_to(Path(installed).resolve())
    assert not (Path(kube.__file__).parents[2] / "tests").exists()  # the tarball ships no tests


def test_the_first_run_secures_the_cluster(cluster, runs):
    from kubernetes import client
    result, writes = runs["first"]
    counts = recap(result.stdout)
    assert counts["failed"] == 0 and counts["changed"] >= 9, result.stdout[-3000:]
    assert writes
    nodes = client.CoreV1Api(cluster.client()).list_node().items
    edge = [n for n in nodes if (n.metadata.labels or {}).get("dedicated") == "edge"]
    assert len(edge) == 6  # two per zone, as the inventory asks
    assert all({(t.key, t.value, t.effect) for t in n.spec.taints or []} >=
               {("dedicated", "edge", "NoSchedule"), ("dedicated", "edge", "NoExecute")} for n in edge)
    policies = client.CustomObjectsApi(cluster.client()).list_cluster_custom_object(
        "crd.projectcalico.org", "v1", "globalnetworkpolicies")["items"]
    lockdown = [p for p in policies if p["metadata"]["name"].endswith(LOCKDOWN)]
    assert lockdown and lockdown[0]["spec"]["preDNAT"] is True
    assert (runs["reports"] / "local-demo-before.html").exists() and (runs["reports"] / "local-demo-after.html").exists()


def test_a_second_run_changes_nothing_and_writes_nothing(runs):
    result, writes = runs["again"]
    counts = recap(result.stdout)
    assert counts["failed"] == 0 and counts["changed"] == 0, result.stdout[-3000:]
    assert writes == []


def test_the_second_run_replays_the_record_audits_and_runs_no_step(runs):
    """The record of the first run holds (roles/containers_workload_pattern/tasks/main.yml): the audit runs, no
    step does. Where modules run in another process, their reads cannot be replayed: no record, every step."""
    stdout = runs["again"][0].stdout
    assert "TASK [containers_workload.secure_cluster.exposure_report : Audit what the cluster exposes" in stdout
    assert ("TASK [containers_workload.secure_cluster.edge_nodes" in stdout) is not IN_PROCESS
    assert ("unchanged.yml for local-demo" in stdout) is IN_PROCESS


def test_the_modules_run_where_this_release_lets_them(runs):
    """In process on the releases it is proven on; elsewhere the usual way, and -vvv says why."""
    stdout = runs["first"][0].stdout
    here, apart = stdout.count(MODULE_RUNS_HERE), stdout.count(MODULE_RUNS_APART)
    if IN_PROCESS:
        assert here >= 10 and apart == 0
    else:
        assert here == 0 and apart >= 10
        assert f"in-process runs are proven on ansible-core 2.16, 2.17, 2.18, 2.19, 2.20, 2.21; this is {ANSIBLE_VERSION}" in stdout


@pytest.mark.parametrize("mistake, message", [
    ({"strongswan_vpn_remote_subnet": ["10.91.0.0/24"], "strongswan_vpn_preshared_secret": "x" * 40,
      "strongswan_vpn_enable_pod_snat": "maybe"}, "strongswan_vpn_enable_pod_snat"),
    ({"secure_cluster_expected_cluster": "https://another-cluster.example:6443"},
     "is not the expected cluster 'https://another-cluster.example:6443'"),
], ids=["argument-spec", "another-cluster"])
def test_a_mistake_gives_a_clear_message_no_traceback_and_no_write(cluster, runs, tmp_path, mistake, message):
    mark = cluster.audit_mark()
    result = run_playbook(cluster, PLAYBOOK, "-i", INVENTORY, "-e", f"exposure_report_dir={tmp_path}",
                          "-e", json.dumps(mistake), check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert message in output
    assert "Traceback" not in output and "Unexpected Exception" not in output
    assert "Plan the edge nodes" not in output
    assert cluster.writes_since(mark) == []


def test_the_audit_playbook_reports_and_writes_nothing(cluster, runs, tmp_path):
    mark = cluster.audit_mark()
    result = run_playbook(cluster, "containers_workload.secure_cluster.audit", "-i", INVENTORY,
                          "-e", f"exposure_report_dir={tmp_path}")
    assert recap(result.stdout)["failed"] == 0
    assert (tmp_path / "local-demo-before.html").exists()
    assert cluster.writes_since(mark) == []


def test_the_rollback_playbook_undoes_the_pattern(cluster, runs):
    """Last in this file: it takes back what the first run did."""
    from kubernetes import client
    result = run_playbook(cluster, "containers_workload.secure_cluster.rollback", "-i", INVENTORY)
    assert recap(result.stdout)["failed"] == 0 and recap(result.stdout)["changed"] > 0
    nodes = client.CoreV1Api(cluster.client()).list_node().items
    assert not [n.metadata.name for n in nodes if (n.metadata.labels or {}).get("dedicated") == "edge"
                or any(t.key == "dedicated" for t in n.spec.taints or [])]
    policies = client.CustomObjectsApi(cluster.client()).list_cluster_custom_object(
        "crd.projectcalico.org", "v1", "globalnetworkpolicies")["items"]
    assert not [p for p in policies if p["metadata"]["name"].endswith(LOCKDOWN)]
