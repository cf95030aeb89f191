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
