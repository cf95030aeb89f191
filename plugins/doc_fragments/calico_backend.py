# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options calico_policy and exposure_info share: which backend reads (and writes) Calico."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  backend:
    description:
      - How Calico is read and written.
      - C(api) goes through the Kubernetes API (Calico's Kubernetes datastore, the C(crd.projectcalico.org/v1)
        CRDs), storing objects exactly as calicoctl does.
      - C(calicoctl) runs the calicoctl binary (O(calicoctl_path)) with O(calicoctl_config) (etcdv3 or kubernetes
        datastore), or without it on the Kubernetes datastore through the module's O(kubeconfig) and O(context).
      - C(auto) takes C(api) when the Kubernetes API serves C(crd.projectcalico.org) and this identity may list
        its GlobalNetworkPolicies, else C(calicoctl) when a calicoctl is on O(calicoctl_path) and
        O(calicoctl_config) is given, else fails naming both; the result's C(backend_reason) says why.
    type: str
    choices: [auto, api, calicoctl]
    default: auto
  calicoctl_path:
    description: The calicoctl binary (v3, matching the cluster's Calico), a path or a name looked up on C(PATH).
    type: path
    default: calicoctl
  calicoctl_config:
    description:
      - A calicoctl.cfg (apiVersion C(projectcalico.org/v3), kind C(CalicoAPIConfig)) naming the datastore, for
        example C(datastoreType=etcdv3) with C(etcdEndpoints), or C(datastoreType=kubernetes) with C(kubeconfig).
      - With it, calicoctl gets none of the C(DATASTORE_TYPE), C(KUBECONFIG), C(ETCD_*) or C(K8S_*) variables of
        this environment, so the file alone says where Calico is.
      - The Calico v1 form (apiVersion C(v1), kind C(calicoApiConfig)), which calicoctl v3 refuses, is refused
        before calicoctl runs, with the v3 document to write instead.
      - The Kubernetes datastore must name its cluster (C(kubeconfig), C(kubeconfigInline) or C(k8sAPIEndpoint)),
        the API server of this module's connection, and etcdv3 C(etcdEndpoints) or C(etcdDiscoverySrv); else the
        module refuses before calicoctl runs.
      - Without it, calicoctl uses the Kubernetes datastore through this module's own connection, the
        O(kubeconfig) file when the connection is that file alone, else a private kubeconfig written from the
        connection (O(context), O(host), O(api_key), O(ca_cert), O(validate_certs), in-cluster), removed when
        the module ends. O(expected_cluster) so holds for calicoctl too.
    type: path
  allow_version_mismatch:
    description:
      - Pass C(--allow-version-mismatch), so calicoctl works with a cluster whose Calico version differs from its
        own (calicoctl refuses every command but C(version) otherwise).
    type: bool
    default: false
  calicoctl_timeout:
    description:
      - Seconds each calicoctl command may take before it is stopped and the run fails naming it (calicoctl does
        not give up on an unreachable etcd by itself).
    type: int
    default: 60
"""
