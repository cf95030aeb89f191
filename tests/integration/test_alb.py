"""ALBs through the IBM Cloud API emulator and through Kubernetes: the change reaches the cluster, re-runs
and check mode write nothing, faults are survived or reported clearly, the API key never shows."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO, run_module


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
    # IKS reports an enabled private ALB with status "enabled" (public ones say "healthy"): that is done.
    assert (private["enabled"], private["state"], private["status"]) == (True, "enabled", "enabled")
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
    assert f"ALB '{alb_id(iks_cluster, 'private')}'" in result["msg"] and "HTTP 503 after 5 attempts" in result["msg"]
    assert replicas(iks_cluster, alb_id(iks_cluster, "public"))[0] == 2


def test_a_one_shot_conflict_fails_at_once_without_claiming_retries(iks_cluster, emulator):
    conflict = {"incidentID": "0f1e", "code": "E0040", "description": "Another operation is in progress on the ALB.",
                "type": "Conflict"}
    emulator.fault("/v1/alb/albs", "POST", {"status": 409, "body": conflict})
    result = run_module(iks_cluster, "alb", iks_args(iks_cluster, type="private", state="enabled"))
    assert result["failed"]
    assert "HTTP 409: Another operation is in progress on the ALB. (incident 0f1e)" in result["msg"], result["msg"]
    assert "attempt" not in result["msg"]
    assert [c["status"] for c in emulator.control("calls") if c["path"] == "/v1/alb/albs"] == [409]


@pytest.mark.parametrize("shape", ["object", "array"])
def test_both_shapes_of_the_classic_alb_list_are_read(iks_cluster, emulator, shape):
    emulator.control("config", {"v1_list_shape": shape})
    result = run_module(iks_cluster, "alb_info", iks_auth(iks_cluster))
    assert not result.get("failed"), result
    assert sorted((a["id"], a["enabled"], a["status"]) for a in result["albs"]) == [
        (alb_id(iks_cluster, "private"), False, "disabled"), (alb_id(iks_cluster, "public"), True, "healthy")]


def test_a_public_alb_in_warning_still_counts_as_enabled(iks_cluster, emulator):
    emulator.control(f"albs/{alb_id(iks_cluster, 'public')}", {"status": "warning"})
    result = run_module(iks_cluster, "alb", iks_args(iks_cluster, type="public", state="enabled"))
    assert result["changed"] is False and not result.get("failed"), result
    assert emulator.writes() == []


def test_an_alb_reporting_critical_while_being_enabled_fails_with_its_status(iks_cluster, emulator):
    private = alb_id(iks_cluster, "private")
    emulator.control(f"albs/{private}", {"status": "critical"})
    result = run_module(iks_cluster, "alb", iks_args(iks_cluster, type="private", state="enabled"))
    assert result["failed"] and f"ALB {private} reports status critical" in result["msg"], result


def test_an_alb_that_stays_pending_times_out_with_its_state(iks_cluster, emulator):
    private = alb_id(iks_cluster, "private")
    emulator.control(f"albs/{private}", {"state": "pending", "status": "pending"})
    result = run_module(iks_cluster, "alb", iks_args(iks_cluster, type="private", state="enabled", wait_timeout=2))
    assert result["failed"] and f"{private} state=pending status=pending enabled=True" in result["msg"], result


def test_classic_replicas_are_resized_and_idempotent(iks_cluster, emulator):
    private = alb_id(iks_cluster, "private")
    first = run_module(iks_cluster, "alb", iks_args(iks_cluster, alb_ids=[private], state="enabled", replicas=3))
    assert first["changed"] and replicas(iks_cluster, private) == (3, 3), first
    writes = len(emulator.writes())
    again = run_module(iks_cluster, "alb", iks_args(iks_cluster, alb_ids=[private], state="enabled", replicas=3))
    assert again["changed"] is False and len(emulator.writes()) == writes
    resized = run_module(iks_cluster, "alb", iks_args(iks_cluster, alb_ids=[private], state="enabled", replicas=2),
                         diff=True)
    assert resized["changed"] and replicas(iks_cluster, private) == (2, 2), resized
    assert resized["diff"]["after"][private]["instances"] == 2 and resized["diff"]["before"][private]["instances"] == 3
    bodies = [c["body"] for c in emulator.control("calls") if c["method"] == "POST" and c["path"] == "/v1/alb/albs"]
    assert bodies == [{"albID": private, "enable": True, "numOfInstances": "3"},
                      {"albID": private, "enable": True, "numOfInstances": "2", "resize": True}]


def test_replicas_on_a_vpc_cluster_are_refused_before_any_call(iks_cluster, emulator):
    emulator.control("config", {"provider": "vpc-gen2"})
    result = run_module(iks_cluster, "alb", iks_args(iks_cluster, platform="vpc", type="private", state="enabled",
                                                     replicas=3))
    assert result["failed"] and "cannot be set on a VPC cluster" in result["msg"]
    assert emulator.control("calls") == []


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
    emulator.control("config", {"provider": "vpc-gen2"})
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
    enable = next(c for c in emulator.control("calls") if c["path"] == "/v2/alb/vpc/enableAlb")
    assert enable["body"] == {"albID": alb_id(iks_cluster, "private"), "cluster": iks_cluster.env["IKS_CLUSTER"],
                              "enable": True}
    again = run_module(iks_cluster, "alb", args)
    assert again["changed"] is False, again


def test_the_classic_api_on_a_vpc_cluster_fails_with_ikss_answer(iks_cluster, emulator):
    emulator.control("config", {"provider": "vpc-gen2"})
    result = run_module(iks_cluster, "alb_info", iks_auth(iks_cluster))
    assert result["failed"] and "HTTP 400" in result["msg"] and "not supported for VPC clusters" in result["msg"]
