"""private_ingress and private_load_balancer roles: private first, public last, exact annotations."""

from __future__ import annotations

import json
import urllib.request

import pytest

from conftest import run_playbook


def emulator(cluster, path, body=None):
    request = urllib.request.Request(f"{cluster.env['IKS_API_URL']}/_emulator/{path}",
                                     data=json.dumps(body).encode() if body is not None else None,
                                     method="POST" if body is not None else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=90) as response:
        payload = response.read()
    return json.loads(payload) if payload else None


@pytest.fixture
def fresh_albs(iks_cluster):
    emulator(iks_cluster, "reset", {})
    yield iks_cluster
    emulator(iks_cluster, "reset", {})


def play(tmp_path, role, variables, check=False):
    path = tmp_path / "play.yml"
    path.write_text(json.dumps([{
        "name": "test", "hosts": "localhost", "gather_facts": False,
        "vars": {**variables, "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "roles": [{"role": f"containers_workload.secure_cluster.{role}"}]}]))
    return str(path), ["-i", "localhost,", "-c", "local"] + (["--check"] if check else [])


def alb_replicas(cluster):
    from kubernetes import client
    apps = client.AppsV1Api(cluster.client())
    cid = cluster.env["IKS_CLUSTER_ID"]
    return {kind: apps.read_namespaced_deployment(f"{kind}-cr{cid}-alb1", "kube-system").spec.replicas
            for kind in ("public", "private")}


APPS = [{"name": "shop", "namespace": "default", "host": "shop.corp.example", "tls_secret": "shop-tls",
         "paths": [{"path": "/", "service": "shop", "port": 80}, {"path": "/api", "service": "api", "port": 8080}]}]


def test_private_ingress_brings_up_private_then_takes_down_public(fresh_albs, tmp_path):
    from kubernetes import client
    # As on IKS: the public ALB may report "warning", the private one reports "enabled" once enabled.
    emulator(fresh_albs, f"albs/public-cr{fresh_albs.env['IKS_CLUSTER_ID']}-alb1", {"status": "warning"})
    playbook, args = play(tmp_path, "private_ingress", {"private_ingress_apps": APPS,
                                                        "private_ingress_poll_interval": 0.3})
    run_playbook(fresh_albs, playbook, *args)
    assert alb_replicas(fresh_albs) == {"public": 0, "private": 2}
    ingress = client.NetworkingV1Api(fresh_albs.client()).read_namespaced_ingress("shop", "default")
    assert ingress.spec.ingress_class_name == "private-iks-k8s-nginx"
    assert [(p.path, p.backend.service.name, p.backend.service.port.number)
            for p in ingress.spec.rules[0].http.paths] == [("/", "shop", 80), ("/api", "api", 8080)]
    assert ingress.spec.tls[0].secret_name == "shop-tls"
    # The order: every enable happened before the first disable.
    writes = [c for c in emulator(fresh_albs, "calls") if c["method"] in ("POST", "DELETE")
              and c["path"] != "/identity/token"]
    assert [c["method"] for c in writes] == ["POST", "DELETE"]
    second = run_playbook(fresh_albs, playbook, *args)
    assert "changed=0" in second.stdout
    client.NetworkingV1Api(fresh_albs.client()).delete_namespaced_ingress("shop", "default")


def test_the_public_alb_stays_up_when_the_private_one_cannot_be_enabled(fresh_albs, tmp_path):
    emulator(fresh_albs, "faults", {"path": "/v1/alb/albs", "method": "POST", "responses": [{"status": 503}] * 10})
    playbook, args = play(tmp_path, "private_ingress", {"private_ingress_poll_interval": 0.3})
    result = run_playbook(fresh_albs, playbook, *args, check=False)
    assert result.returncode != 0
    assert "HTTP 503" in result.stdout
    assert alb_replicas(fresh_albs) == {"public": 2, "private": 0}
    assert not [c for c in emulator(fresh_albs, "calls") if c["method"] == "DELETE"]


def test_hosts_on_the_ibm_subdomain_are_refused_before_any_change(fresh_albs, tmp_path):
    apps = [dict(APPS[0], host="shop.mycluster-1234.us-south.containers.appdomain.cloud")]
    playbook, args = play(tmp_path, "private_ingress", {"private_ingress_apps": apps})
    result = run_playbook(fresh_albs, playbook, *args, check=False)
    assert result.returncode != 0 and "IBM-provided Ingress subdomain" in result.stdout
    assert [c for c in emulator(fresh_albs, "calls") if c["method"] != "GET"
            and c["path"] != "/identity/token"] == []


def test_legacy_alb_id_annotation_names_the_private_alb(fresh_albs, tmp_path):
    from kubernetes import client
    playbook, args = play(tmp_path, "private_ingress", {
        "private_ingress_apps": APPS, "private_ingress_class": "legacy-alb-id",
        "private_ingress_disable_public": False, "private_ingress_poll_interval": 0.3})
    run_playbook(fresh_albs, playbook, *args)
    ingress = client.NetworkingV1Api(fresh_albs.client()).read_namespaced_ingress("shop", "default")
    assert ingress.metadata.annotations == {
        "ingress.bluemix.net/ALB-ID": f"private-cr{fresh_albs.env['IKS_CLUSTER_ID']}-alb1"}
    assert ingress.spec.ingress_class_name is None
    client.NetworkingV1Api(fresh_albs.client()).delete_namespaced_ingress("shop", "default")


@pytest.mark.parametrize("provider, annotations", [
    ("auto", {"service.kubernetes.io/ibm-load-balancer-cloud-provider-ip-type": "private",
              "service.kubernetes.io/ibm-load-balancer-cloud-provider-zone": "dal10",
              "service.kubernetes.io/ibm-load-balancer-cloud-provider-vlan": "2263901"}),
    ("aws", {"service.beta.kubernetes.io/aws-load-balancer-internal": "true"}),
    ("gcp", {"networking.gke.io/load-balancer-type": "Internal"}),
    ("azure", {"service.beta.kubernetes.io/azure-load-balancer-internal": "true"}),
    ("digitalocean", {"service.beta.kubernetes.io/do-loadbalancer-network": "INTERNAL"}),
])
def test_private_services_carry_exactly_the_providers_annotations(iks_cluster, tmp_path, provider, annotations):
    from kubernetes import client
    services = [{"name": f"web-{provider}", "namespace": "default", "selector": {"app": "web"},
                 "ports": [{"port": 80, "target_port": 8080}], "zone": "dal10", "vlan": 2263901}]
    playbook, args = play(tmp_path, "private_load_balancer", {"private_load_balancer_provider": provider,
                                                              "private_load_balancer_services": services})
    run_playbook(iks_cluster, playbook, *args)
    core = client.CoreV1Api(iks_cluster.client())
    service = core.read_namespaced_service(f"web-{provider}", "default")
    assert service.metadata.annotations == annotations
    assert service.spec.type == "LoadBalancer" and service.spec.ports[0].target_port == 8080
    again = run_playbook(iks_cluster, playbook, *args)
    assert "changed=0" in again.stdout
    core.delete_namespaced_service(f"web-{provider}", "default")
