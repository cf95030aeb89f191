"""Kubernetes NetworkPolicy ingress, evaluated as the API documents it, and where ingress traffic comes from."""

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import ingress_path

POD = {"app": "web"}


def policy(ingress, selector=None, types=("Ingress",)):
    return {"metadata": {"namespace": "shop"},
            "spec": {"podSelector": selector or {}, "policyTypes": list(types), "ingress": ingress}}


def pod_in(namespace, labels):
    return {"namespace": namespace, "namespace_labels": {"kubernetes.io/metadata.name": namespace}, "pod_labels": labels}


def test_a_pod_no_ingress_policy_selects_accepts_everything():
    assert ingress_path.admits([policy([], types=("Egress",))], "shop", POD, {"ip": "203.0.113.1"})
    assert ingress_path.admits([policy([], selector={"matchLabels": {"app": "db"}})], "shop", POD, {"ip": "1.2.3.4"})


def test_default_deny_admits_nothing_and_a_rule_without_from_admits_all():
    assert not ingress_path.admits([policy([])], "shop", POD, pod_in("shop", POD))
    assert ingress_path.admits([policy([]), policy([{"ports": [{"port": 80}]}])], "shop", POD, {"ip": "203.0.113.1"})


def test_a_pod_selector_alone_means_the_policy_namespace():
    rule = [{"from": [{"podSelector": {}}]}]
    assert ingress_path.admits([policy(rule)], "shop", POD, pod_in("shop", {"x": "y"}))
    assert not ingress_path.admits([policy(rule)], "shop", POD, pod_in("other", {"x": "y"}))


def test_namespace_and_pod_selectors_must_both_match():
    rule = [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                       "podSelector": {"matchExpressions": [{"key": "ingress.cloud.ibm.com/alb-id",
                                                             "operator": "Exists"}]}}]}]
    alb = pod_in("kube-system", {"ingress.cloud.ibm.com/alb-id": "private-cr1-alb1"})
    assert ingress_path.admits([policy(rule)], "shop", POD, alb)
    assert not ingress_path.admits([policy(rule)], "shop", POD, pod_in("kube-system", {"app": "dns"}))
    assert not ingress_path.admits([policy(rule)], "shop", POD, pod_in("other", alb["pod_labels"]))


def test_ip_blocks_honour_their_exceptions_and_do_not_match_pods():
    rule = [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}]}]
    assert ingress_path.admits([policy(rule)], "shop", POD, {"ip": "10.2.3.4"})
    assert not ingress_path.admits([policy(rule)], "shop", POD, {"ip": "10.1.3.4"})
    assert not ingress_path.admits([policy(rule)], "shop", POD, pod_in("shop", POD))


def test_ingress_controllers_and_node_sources_are_found():
    alb = {"metadata": {"namespace": "kube-system"},
           "spec": {"template": {"metadata": {"labels": {"ingress.cloud.ibm.com/alb-id": "public-cr1-alb1"}}}}}
    nginx = {"metadata": {"namespace": "ingress"},
             "spec": {"template": {"metadata": {"labels": {"app.kubernetes.io/name": "ingress-nginx"}}}}}
    other = {"metadata": {"namespace": "shop"}, "spec": {"template": {"metadata": {"labels": {"app": "web"}}}}}
    found = ingress_path.ingress_controllers([alb, alb, nginx, other])
    assert [(c["name"], c["namespace"]) for c in found] == [("ingress-nginx", "ingress"), ("IKS ALB", "kube-system")]
    node = {"metadata": {"annotations": {"projectcalico.org/IPv4IPIPTunnelAddr": "172.30.1.1"}},
            "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.5"},
                                     {"type": "ExternalIP", "address": "169.1.1.1"}]}}
    assert ingress_path.node_sources([node]) == ["10.0.0.5/32", "172.30.1.1/32"]
