# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by every module that talks to Kubernetes."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file.
      - Without O(kubeconfig) and O(host), the first file of E(KUBECONFIG), then C(~/.kube/config),
        then the in-cluster service account is used.
      - Falls back to the environment variable E(K8S_AUTH_KUBECONFIG).
    type: path
  context:
    description:
      - Name of the kubeconfig context to use; defaults to the kubeconfig's current-context.
      - An unknown context is an error that lists the contexts the kubeconfig has.
      - Falls back to the environment variable E(K8S_AUTH_CONTEXT).
    type: str
  host:
    description:
      - URL of the Kubernetes API server, for example C(https://c100.us-south.containers.cloud.ibm.com:30426).
      - Overrides the server of the kubeconfig; with O(api_key) no kubeconfig is needed.
      - Falls back to the environment variable E(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - Bearer token for the API server. Never logged.
      - Falls back to the environment variable E(K8S_AUTH_API_KEY).
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate. Defaults to the kubeconfig's setting (verify).
      - Falls back to the environment variable E(K8S_AUTH_VERIFY_SSL).
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description:
      - Path to a CA certificate bundle that signed the API server's certificate.
      - Falls back to the environment variable E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  expected_cluster:
    description:
      - Safety guard for inventories of many clusters. When set, the module refuses to read or change
        anything unless the connected cluster is this one.
      - Matches the API server URL, the UID of the C(kube-system) namespace, or the IKS cluster ID
        (ConfigMap C(kube-system/cluster-info)).
    type: str
requirements:
  - kubernetes >= 30.1.0 (Python client)
  - PyYAML
notes:
  - Requests go straight to the REST API without discovery, so a module run costs only the calls it needs.
  - Transient failures (HTTP 429, 500, 502, 503, 504 and 409 Conflict) are retried up to 5 times with
    exponential backoff; 429 honours Retry-After.
"""
