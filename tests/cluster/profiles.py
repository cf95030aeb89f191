"""What a fresh cluster of each profile contains besides the control plane.

``generic``: N worker Nodes with the well-known topology labels (zones a, b, c).
``iks``: what IBM Cloud Kubernetes Service (classic) puts in a new cluster that matters to this
collection: worker Nodes named by private IP with IKS labels, a public and a private HostEndpoint per
worker labelled ``ibm.role``, Calico's ClusterInformation and FelixConfiguration, IKS's default GlobalNetworkPolicies on the public interface, the
two default ALB Deployments in kube-system (public enabled, private disabled), and IKS's RBAC: the bindings IBM Cloud
IAM service roles are synced into and Calico's calico-node service account, role and binding as IKS manages them.
"""

from __future__ import annotations

IKS_ZONES = ("dal10", "dal12", "dal13")
GENERIC_ZONES = ("zone-a", "zone-b", "zone-c")
KWOK_ANNOTATIONS = {"kwok.x-k8s.io/node": "fake"}
CALICO = "crd.projectcalico.org/v1"


def objects(profile: str, cluster_id: str, count: int) -> list[dict]:
    """Every object the profile creates, in creation order."""
    if profile == "iks":
        workers = [iks_node(cluster_id, i) for i in range(count)]
        return [*workers, *calico_node_objects(), *iks_host_endpoints(workers), *iks_default_policies(),
                *iks_albs(cluster_id), *iks_rbac()]
    return [generic_node(i) for i in range(count)]


def extra_env(profile: str, state: dict) -> dict[str, str]:
    """Exports a profile adds to ``.clusters/NAME/env``.

    Profile iks adds the IKS API emulator (tests/iks_api): its URL, the cluster it knows and the API key
    it accepts.
    """
    if profile == "iks":
        return {"IKS_CLUSTER_ID": state["cluster_id"], "IKS_CLUSTER": state["name"],
                "IKS_API_URL": state["iks_api_url"], "IBMCLOUD_API_KEY": state["iks_api_key"]}
    return {}


def node(name: str, labels: dict, addresses: list[dict]) -> dict:
    resources = {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "annotations": dict(KWOK_ANNOTATIONS),
                     "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                "kubernetes.io/arch": "amd64", "node-role.kubernetes.io/worker": "",
                                "type": "kwok", **labels}},
        "spec": {},
        "status": {"capacity": resources, "allocatable": resources, "addresses": addresses},
    }


def generic_node(index: int) -> dict:
    zone = GENERIC_ZONES[index % len(GENERIC_ZONES)]
    name = f"worker-{index + 1}"
    return node(name, {"topology.kubernetes.io/zone": zone, "topology.kubernetes.io/region": "local"},
                [{"type": "InternalIP", "address": f"192.168.50.{index + 10}"},
                 {"type": "Hostname", "address": name}])


def iks_private_ip(index: int) -> str:
    return f"10.176.{48 + index % len(IKS_ZONES)}.{10 + index}"


def iks_public_ip(index: int) -> str:
    return f"169.47.{100 + index % len(IKS_ZONES)}.{10 + index}"


def iks_node(cluster_id: str, index: int) -> dict:
    zone = IKS_ZONES[index % len(IKS_ZONES)]
    private_ip, public_ip = iks_private_ip(index), iks_public_ip(index)
    labels = {
        "ibm-cloud.kubernetes.io/zone": zone,
        "ibm-cloud.kubernetes.io/region": "us-south",
        "topology.kubernetes.io/zone": zone,
        "topology.kubernetes.io/region": "us-south",
        "failure-domain.beta.kubernetes.io/zone": zone,
        "ibm-cloud.kubernetes.io/worker-pool-name": "default",
        "ibm-cloud.kubernetes.io/worker-pool-id": f"{cluster_id}-default",
        "ibm-cloud.kubernetes.io/worker-id": f"kube-{cluster_id}-default-{index + 1:08x}",
        "ibm-cloud.kubernetes.io/machine-type": "b3c.4x16",
        "ibm-cloud.kubernetes.io/internal-ip": private_ip,
        "ibm-cloud.kubernetes.io/external-ip": public_ip,
        "privateVLAN": "2263901", "publicVLAN": "2263903",
        "arch": "amd64",
    }
    return node(private_ip, labels, [{"type": "InternalIP", "address": private_ip},
                                     {"type": "ExternalIP", "address": public_ip},
                                     {"type": "Hostname", "address": private_ip}])


def calico_node_objects() -> list[dict]:
    """What calico-node writes when it starts: ClusterInformation and FelixConfiguration ``default`` and the IP pool (IKS pod subnet)
    (Calico v3.28.5, the newest release note in the pinned Calico module; default failsafe ports)."""
    return [
        {"apiVersion": CALICO, "kind": "ClusterInformation", "metadata": {"name": "default"},
         "spec": {"calicoVersion": "v3.28.5", "clusterType": "k8s,bgp,kdd", "datastoreReady": True}},
        {"apiVersion": CALICO, "kind": "FelixConfiguration", "metadata": {"name": "default"},
         "spec": {"bpfEnabled": False, "logSeverityScreen": "Info", "reportingInterval": "0s"}},
        {"apiVersion": CALICO, "kind": "IPPool", "metadata": {"name": "default-ipv4-ippool"},
         "spec": {"cidr": "172.30.0.0/16", "ipipMode": "Always", "natOutgoing": True, "blockSize": 26,
                  "nodeSelector": "all()"}},
    ]


def iks_host_endpoints(workers: list[dict]) -> list[dict]:
    """IKS creates one HostEndpoint per worker interface: eth0 private, eth1 public."""
    endpoints = []
    for worker in workers:
        name = worker["metadata"]["name"]
        labels = worker["metadata"]["labels"]
        for role, interface, ip in (("worker_private", "eth0", labels["ibm-cloud.kubernetes.io/internal-ip"]),
                                    ("worker_public", "eth1", labels["ibm-cloud.kubernetes.io/external-ip"])):
            endpoints.append({
                "apiVersion": CALICO, "kind": "HostEndpoint",
                "metadata": {"name": f"{name}-{role.replace('_', '-')}", "labels": {
                    "ibm.role": role, "ibm.zone": labels["ibm-cloud.kubernetes.io/zone"]}},
                "spec": {"node": name, "interfaceName": interface, "expectedIPs": [ip]},
            })
    return endpoints


def policy(name: str, order: float, selector: str, spec: dict) -> dict:
    """A GlobalNetworkPolicy stored as calicoctl stores it: tier-prefixed name, v3 metadata annotation."""
    return {"apiVersion": CALICO, "kind": "GlobalNetworkPolicy",
            "metadata": {"name": f"default.{name}",
                         "annotations": {"projectcalico.org/metadata": '{"creationTimestamp":"2026-01-01T00:00:00Z"}'}},
            "spec": {"order": order, "selector": selector, **spec}}


def iks_default_policies() -> list[dict]:
    """The default policies IKS applies to the public interface of every worker (see seed 004)."""
    public = "ibm.role == 'worker_public'"
    return [
        policy("allow-all-outbound", 1900, public,
               {"types": ["Egress"], "egress": [{"action": "Allow", "destination": {}, "source": {}}]}),
        policy("allow-all-private-default", 100000, "ibm.role == 'worker_private'",
               {"types": ["Ingress", "Egress"], "ingress": [{"action": "Allow", "destination": {}, "source": {}}],
                "egress": [{"action": "Allow", "destination": {}, "source": {}}]}),
        policy("allow-bigfix-port", 1900, public,
               {"types": ["Ingress"], "ingress": [{"action": "Allow", "protocol": "TCP", "source": {},
                                                   "destination": {"ports": [52311]}}]}),
        policy("allow-icmp", 1500, public,
               {"types": ["Ingress"], "ingress": [{"action": "Allow", "protocol": "ICMP", "source": {},
                                                   "destination": {}}]}),
        policy("allow-node-port-dnat", 1500, public,
               {"types": ["Ingress"], "ingress": [
                   {"action": "Allow", "protocol": proto, "source": {},
                    "destination": {"ports": ["30000:32767"]}} for proto in ("TCP", "UDP")]}),
        policy("allow-sys-mgmt", 1950, public,
               {"types": ["Ingress"], "ingress": [{"action": "Allow", "source": {"nets": [
                   "161.26.0.0/16", "166.8.0.0/14"]}, "destination": {}}]}),
        policy("allow-vrrp", 1500, public,
               {"types": ["Ingress"], "ingress": [{"action": "Allow", "protocol": 112, "source": {},
                                                   "destination": {}}]}),
    ]


def iks_albs(cluster_id: str) -> list[dict]:
    """The two default ALBs of a classic IKS cluster: public enabled (2 replicas), private disabled."""
    albs = []
    for alb_type, replicas in (("public", 2), ("private", 0)):
        alb_id = f"{alb_type}-cr{cluster_id}-alb1"
        labels = {"app": alb_id, "ingress.cloud.ibm.com/alb-id": alb_id,
                  "ingress.cloud.ibm.com/alb-type": alb_type, "ingress.cloud.ibm.com/zone": IKS_ZONES[0]}
        albs.append({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": alb_id, "namespace": "kube-system", "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": alb_id}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        # Like IKS: ALB pods go to edge nodes when there are any.
                        "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                            {"weight": 100, "preference": {"matchExpressions": [
                                {"key": "dedicated", "operator": "In", "values": ["edge"]}]}}]}},
                        "tolerations": [{"key": "dedicated", "value": "edge", "operator": "Equal",
                                         "effect": effect} for effect in ("NoSchedule", "NoExecute")],
                        "containers": [{"name": "nginx-ingress",
                                        "image": "icr.io/ext/istio/ingress-nginx:1.12.1",
                                        "ports": [{"containerPort": 80}, {"containerPort": 443}],
                                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}],
                    },
                },
            },
        })
    return albs


RBAC = "rbac.authorization.k8s.io/v1"
IKS_MANAGED = {"addonmanager.kubernetes.io/mode": "Reconcile"}  # IKS reconciles its managed add-ons


def binding(kind: str, name: str, role: str, subjects: list[dict], namespace: str | None = None,
            labels: dict | None = None) -> dict:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {}), **({"labels": labels} if labels else {})}
    return {"apiVersion": RBAC, "kind": kind, "metadata": metadata,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": subjects}


def iam_user(email: str) -> dict:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": f"IAM#{email}"}


def iks_rbac() -> list[dict]:
    """IKS's own RBAC, small: IAM service roles are synced into ibm-admin (Manager, all namespaces: cluster-admin),
    and per namespace ibm-operate (Manager: admin), ibm-edit (Writer: edit), ibm-view (Reader: view), with
    ``IAM#<email>`` users; and Calico's calico-node (a managed add-on) with part of its ClusterRole's rules from
    the Calico manifests."""
    return [
        binding("ClusterRoleBinding", "ibm-admin", "cluster-admin", [iam_user("cluster-owner@example.com")]),
        binding("RoleBinding", "ibm-operate", "admin", [iam_user("operator@example.com")], "default"),
        binding("RoleBinding", "ibm-edit", "edit", [iam_user("developer@example.com")], "default"),
        binding("RoleBinding", "ibm-view", "view", [iam_user("auditor@example.com")], "default"),
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "calico-node", "namespace": "kube-system", "labels": IKS_MANAGED}},
        {"apiVersion": RBAC, "kind": "ClusterRole", "metadata": {"name": "calico-node", "labels": IKS_MANAGED},
         "rules": [{"apiGroups": [""], "resources": ["pods", "nodes", "namespaces"], "verbs": ["get"]},
                   {"apiGroups": [""], "resources": ["endpoints", "services"], "verbs": ["watch", "list", "get"]},
                   {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch", "update"]},
                   {"apiGroups": [""], "resources": ["serviceaccounts/token"], "resourceNames": ["calico-cni-plugin"],
                    "verbs": ["create"]}]},
        binding("ClusterRoleBinding", "calico-node", "calico-node",
                [{"kind": "ServiceAccount", "name": "calico-node", "namespace": "kube-system"}], labels=IKS_MANAGED),
    ]
