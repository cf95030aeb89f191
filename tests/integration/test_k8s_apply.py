"""k8s_apply applies any kind the cluster serves: built-in kinds, kinds found by API discovery, custom resources."""

from __future__ import annotations

from conftest import run_module, unique

NS = "default"


def definitions(name: str) -> list[dict]:
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NS}, "data": {"a": "1"}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name, "namespace": NS},
         "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": name}}}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": NS},
         "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
        {"apiVersion": "crd.projectcalico.org/v1", "kind": "GlobalNetworkSet", "metadata": {"name": name},
         "spec": {"nets": ["198.51.100.0/24"]}},
    ]


def test_any_served_kind_is_applied_once_and_removed(iks_cluster):
    name = unique("apply")
    objs = definitions(name)
    mark = iks_cluster.audit_mark()
    check = run_module(iks_cluster, "k8s_apply", {"definitions": objs}, check_mode=True)
    assert check["changed"] and iks_cluster.writes_since(mark) == []
    first = run_module(iks_cluster, "k8s_apply", {"definitions": objs}, diff=True)
    assert first["changed"] and [o["changed"] for o in first["objects"]] == [True] * 4
    assert first["diff"]["after"][f"PodDisruptionBudget/{name}"]["spec"]["maxUnavailable"] == 1
    from kubernetes import client
    api = iks_cluster.client()
    assert client.PolicyV1Api(api).read_namespaced_pod_disruption_budget(name, NS).spec.max_unavailable == 1
    stored = client.CustomObjectsApi(api).get_cluster_custom_object("crd.projectcalico.org", "v1",
                                                                    "globalnetworksets", name)
    assert stored["spec"]["nets"] == ["198.51.100.0/24"]
    mark = iks_cluster.audit_mark()
    again = run_module(iks_cluster, "k8s_apply", {"definitions": objs})
    assert not again["changed"] and iks_cluster.writes_since(mark) == []
    # one discovery read per API group/version not in the built-in table (policy/v1, crd.projectcalico.org/v1)
    assert again["api_calls"] == {"reads": 4 + 2, "writes": 0}
    gone = run_module(iks_cluster, "k8s_apply", {"definitions": objs, "state": "absent"})
    assert gone["changed"] and {o["kind"] for o in gone["objects"]} == {o["kind"] for o in objs}
    assert client.CustomObjectsApi(api).list_cluster_custom_object(
        "crd.projectcalico.org", "v1", "globalnetworksets", field_selector=f"metadata.name={name}")["items"] == []


def service(name: str, **metadata) -> dict:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": NS, **metadata},
            "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}}


def test_released_takes_back_only_what_the_step_set(iks_cluster):
    """State released (the private LB step's rollback): a Service only the step set is deleted; one someone else
    made keeps theirs and loses ours; one the step made and someone else only labelled cannot stand without the
    step's fields (no ports) and is deleted. Check mode says the same, writing nothing (the API server judges
    the release as a dry run)."""
    from kubernetes import client

    core = client.CoreV1Api(iks_cluster.client())
    only_ours, theirs, labelled = (unique(p) for p in ("rel-ours", "rel-theirs", "rel-labelled"))
    ours = {"annotations": {"example.com/private": "true"}}
    # theirs: created by another field manager; the step then adds its annotation
    core.create_namespaced_service(NS, {**service(theirs), "metadata": {"name": theirs, "namespace": NS}},
                                   field_manager="someone-else")
    applied = run_module(iks_cluster, "k8s_apply", {"definitions": [service(n, **ours) for n in (only_ours, theirs,
                                                                                                 labelled)]})
    assert applied["changed"]
    core.patch_namespaced_service(labelled, NS, {"metadata": {"labels": {"team": "web"}}}, field_manager="kubectl-label")
    objs = [service(n, **ours) for n in (only_ours, theirs, labelled)]

    mark = iks_cluster.audit_mark()
    check = run_module(iks_cluster, "k8s_apply", {"definitions": objs, "state": "released"}, check_mode=True,
                       diff=True)
    assert not check.get("failed"), check
    assert check["changed"] and iks_cluster.writes_since(mark) == []
    expected = {f"Service/{only_ours}": "absent", f"Service/{labelled}": "absent",
                f"Service/{theirs}": "without the fields of secure_cluster"}
    assert check["diff"]["after"] == expected

    done = run_module(iks_cluster, "k8s_apply", {"definitions": objs, "state": "released"}, diff=True)
    assert not done.get("failed"), done
    assert done["diff"]["after"] == expected
    names = {s.metadata.name: s for s in core.list_namespaced_service(NS).items}
    assert only_ours not in names and labelled not in names
    kept = names[theirs]
    assert kept.spec.ports[0].port == 80 and "example.com/private" not in (kept.metadata.annotations or {})
    again = run_module(iks_cluster, "k8s_apply", {"definitions": objs, "state": "released"})
    assert not again["changed"]
    core.delete_namespaced_service(theirs, NS)
