# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of the IBM Cloud Kubernetes Service API (backend iks)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  ibmcloud_api_key:
    description:
      - IBM Cloud API key, exchanged for an IAM token (refreshed before it expires). Never logged or returned.
      - Falls back to E(IC_API_KEY), then E(IBMCLOUD_API_KEY).
    type: str
  cluster:
    description:
      - Name or ID of the IKS cluster. Falls back to E(IKS_CLUSTER).
    type: str
  region:
    description:
      - The cluster's region, such as C(us-south). Sent as C(X-Region), and with O(iks_endpoint=private) it
        names the private service endpoint.
      - Falls back to E(IC_REGION) / E(IBMCLOUD_REGION).
    type: str
  resource_group:
    description: Resource group ID sent as C(X-Auth-Resource-Group). Falls back to E(IC_RESOURCE_GROUP).
    type: str
  iks_endpoint:
    description:
      - C(public) (containers.cloud.ibm.com), C(private), or a URL (for example a test emulator, which then
        also serves IAM). Falls back to E(IKS_API_URL).
      - C(private) is the regional private service endpoint C(https://private.<region>.containers.cloud.ibm.com)
        and needs O(region); IAM is then C(private.<region>.iam.cloud.ibm.com) in us-south and us-east,
        C(private.iam.cloud.ibm.com) elsewhere (unless O(iam_endpoint) is set).
    type: str
    default: public
  iam_endpoint:
    description: IAM base URL, when it differs from what O(iks_endpoint) implies.
    type: str
  platform:
    description: C(classic) uses the v1 ALB API, C(vpc) the v2 one.
    type: str
    choices: [classic, vpc]
    default: classic
notes:
  - HTTP 429 (honouring Retry-After, at most 30 s) and 5xx answers are retried up to 5 times with
    exponential backoff; an expired token is refreshed once. Other errors fail at once with IKS's description
    and incident ID.
"""
