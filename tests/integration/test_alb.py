"""ALBs through the IBM Cloud API emulator and through Kubernetes: the change reaches the cluster, re-runs
and check mode write nothing, faults are survived or reported clearly, the API key never shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import pytest

from conftest import REPO, run_module


class Emulator:
    def __init__(self, url: str):
        self.url = url

    def control(self, path: str, body=None):
        request = urllib.request.Request(f"{self.url}/_emulator/{path}", method="POST" if body is not None or
                                         path != "calls" else "GET",
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=90) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def writes(self) -> list[dict]:
        return [c for c in self.control("calls") if c["method"] != "GET" and c["path"] != "/identity/token"]

    def fault(self, path: str, method: str, *responses: dict) -> None:
        self.control("faults", {"path": path, "method": method, "responses": list(responses)})


@pytest.fixture
def emulator(iks_cluster):
    emu = Emulator(iks_cluster.env["IKS_API_URL"])
    emu.control("reset", {})
    yield emu
    emu.control("reset", {})


def iks_auth(kube_cluster, **extra):
    env = kube_cluster.env
    return {"iks_endpoint": env["IKS_API_URL"], "ibmcloud_api_key": env["IBMCLOUD_API_KEY"],
            "cluster": env["IKS_CLUSTER"], **extra}


def iks_args(kube_cluster, **extra):
    return iks_auth(kube_cluster, **{"poll_interval": 0.3, "wait_timeout": 60, **extra})


def replicas(cluster, name):
    from kubernetes import client
    deployment = client.AppsV1Api(cluster.client()).read_namespaced_deployment(name, "kube-system")
    return deployment.spec.replicas, deployment.status.ready_replicas or 0


def alb_id(cluster, kind):
    return f"{kind}-cr{cluster.env['IKS_CLUSTER_ID']}-alb1"


def test_enabling_the_private_alb_reaches_the_cluster_and_is_idempotent(iks_cluster, emulator):
    result = run_module(iks_cluster, "alb", iks_args(iks_cluster, type="private", state="enabled"))
    assert result["changed"] and result["changed_albs"] == [alb_id(iks_cluster, "private")], result
    assert replicas(iks_cluster, alb_id(iks_cluster, "private")) == (2, 2)
    private = next(a for a in result["albs"] if a["type"] == "private")
    assert (private["enabled"], private["state"], private["status"]) == (True, "enabled", "healthy")
    writes = len(emulator.writes())
    again = run_module(iks_cluster, "alb", iks_args(iks_cluster, type="private", state="enabled"))
    assert again["changed"] is False and len(emulator.writes()) == writes


def test_check_mode_makes_no_api_write(iks_cluster, emulator):
    mark = iks_cluster.audit_mark()
    result = run_module(iks_cluster, "alb", iks_args(iks_cluster, type="private", state="enabled"), check_mode=True)
    assert result["changed"] is True
    assert emulator.writes() == []
    assert iks_cluster.writes_since(mark) == []
    assert replicas(iks_cluster, alb_id(iks_cluster, "private"))[0] == 0


def test_the_last_enabled_alb_is_never_disabled_without_force(iks_cluster, emulator):
    result = run_module(iks_cluster, "alb", iks_args(iks_cluster, type="public", state="disabled"))
    assert result["failed"] and "no other ALB is enabled" in result["msg"]
    assert emulator.writes() == []


@pytest.mark.parametrize("faults", [
    [{"status": 429, "retry_after": 1}],
    [{"status": 500}, {"status": 500}, {"status": 500}],
])
def test_transient_faults_are_retried_until_the_change_goes_through(iks_cluster, emulator, faults):
    emulator.fault("/v1/alb/albs", "POST", *faults)
    result = run_module(iks_cluster, "alb", iks_args(iks_cluster, type="private", state="enabled"))
    assert result["changed"] and not result.get("failed"), result
    attempts = [c["status"] for c in emulator.control("calls") if c["method"] == "POST" and c["path"] == "/v1/alb/albs"]
    assert attempts == [f["status"] for f in faults] + [204]


def test_an_expired_token_is_refreshed_mid_run(iks_cluster, emulator):
    # The listing works; then the token expires just as the module asks for the change.
    emulator.fault("/v1/alb/albs", "POST", {"expire_tokens": True})
    result = run_module(iks_cluster, "alb", iks_args(iks_cluster, type="private", state="enabled"))
    assert result["changed"] and not result.get("failed"), result
    calls = [(c["method"], c["path"], c["status"]) for c in emulator.control("calls")]
    enable = calls.index(("POST", "/v1/alb/albs", 401))
    assert calls[enable + 1:enable + 3] == [("POST", "/identity/token", 200), ("POST", "/v1/alb/albs", 204)]


def test_persistent_503_fails_clearly_and_changes_nothing(iks_cluster, emulator):
    emulator.fault("/v1/alb/albs", "POST", *[{"status": 503}] * 10)
    result = run_module(iks_cluster, "alb", iks_args(iks_cluster, type="private", state="enabled"))
    assert result["failed"]
    assert f"ALB '{alb_id(iks_cluster, 'private')}'" in result["msg"] and "HTTP 503" in result["msg"]
    assert replicas(iks_cluster, alb_id(iks_cluster, "public"))[0] == 2


def test_a_wait_that_runs_out_names_the_pending_alb(iks_cluster, emulator):
    result = run_module(iks_cluster, "alb", iks_args(iks_cluster, type="private", state="enabled", wait_timeout=0))
    assert result["failed"] and "timed out" in result["msg"]
    assert f"{alb_id(iks_cluster, 'private')} state=pending" in result["msg"]


def test_unknown_cluster_and_bad_key_give_clear_errors(iks_cluster, emulator):
    result = run_module(iks_cluster, "alb_info", iks_auth(iks_cluster, cluster="nope"))
    assert result["failed"] and "cluster 'nope' was not found (HTTP 404)" in result["msg"]
    result = run_module(iks_cluster, "alb_info", iks_auth(iks_cluster, ibmcloud_api_key="wrong-key-123"))
    assert result["failed"] and "IBM Cloud IAM refused the API key" in result["msg"]
    assert "wrong-key-123" not in str(result)


def test_kubernetes_backend_scales_the_ingress_controller(iks_cluster, emulator):
    args = {"backend": "kubernetes", "alb_ids": [alb_id(iks_cluster, "private")], "state": "enabled",
            "poll_interval": 0.3, "replicas": 3}
    result = run_module(iks_cluster, "alb", args)
    assert result["changed"], result
    assert replicas(iks_cluster, alb_id(iks_cluster, "private")) == (3, 3)
    assert run_module(iks_cluster, "alb", args)["changed"] is False
    info = run_module(iks_cluster, "alb_info", {"backend": "kubernetes", "type": "private"})
    assert [(a["enabled"], a["state"], a["instances"]) for a in info["albs"]] == [(True, "enabled", 3)]


def test_the_api_key_never_appears_in_verbose_output(iks_cluster, emulator, tmp_path):
    playbook = tmp_path / "alb.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - containers_workload.secure_cluster.alb:\n"
        "        type: private\n        state: enabled\n        poll_interval: 0.3\n"
        "    - containers_workload.secure_cluster.alb_info:\n      register: albs\n"
        "    - ansible.builtin.debug:\n        var: albs\n")
    env = {**os.environ, **iks_cluster.env, "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build")}
    result = subprocess.run([str(os.path.join(os.path.dirname(sys.executable), "ansible-playbook")), "-vvv",
                             "-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}",
                             str(playbook)], capture_output=True, text=True, env=env, check=False, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "changed=1" in result.stdout
    assert iks_cluster.env["IBMCLOUD_API_KEY"] not in result.stdout + result.stderr


def test_vpc_clusters_use_the_v2_api_with_region_and_resource_group(iks_cluster, emulator):
    args = iks_args(iks_cluster, platform="vpc", type="private", state="enabled", region="us-south",
                    resource_group="0f1e2d3c")
    result = run_module(iks_cluster, "alb", args)
    assert result["changed"], result
    assert replicas(iks_cluster, alb_id(iks_cluster, "private")) == (2, 2)
    calls = [(c["method"], c["path"].split("?")[0]) for c in emulator.control("calls")
             if c["path"] != "/identity/token"]
    assert ("POST", "/v2/alb/vpc/enableAlb") in calls
    assert all(call[1].startswith("/v2/") for call in calls)
    headers = emulator.control("calls")[-1]["headers"]
    assert headers == {"X-Region": "us-south", "X-Auth-Resource-Group": "0f1e2d3c"}
