"""IBM's own Python client (ibm-cloud-sdk-core) against the IBM Cloud API emulator.

Runs in its own venv (.build/ibm-venv, see tests/requirements-ibm.txt), driven by test_ibm_client.py:

    ibm_peer.py URL API_KEY CLUSTER SCENARIO [ARG]

and prints one JSON document with what IBM's client saw. The requests are the ones IBM's clients send
(container-services-go-sdk kubernetesserviceapiv1, bluemix-go containerv1/containerv2 as used by
terraform-provider-ibm); the parsing is theirs too: an answer they could not read fails here.
"""

from __future__ import annotations

import json
import sys
import time

import jwt
import requests
from ibm_cloud_sdk_core import ApiException, BaseService
from ibm_cloud_sdk_core.authenticators import IAMAuthenticator

# bluemix-go's structs have no omitempty: every field goes out, unset ones as "" or false.
V1_ALB_CONFIG = {"albID": "", "clusterID": "", "name": "", "albType": "", "enable": False, "state": "",
                 "createdDate": "", "numOfInstances": "", "resize": False, "albip": "", "zone": "",
                 "disableDeployment": False, "vlanID": "", "albBuild": "", "status": ""}
V2_ALB_CONFIG = {"albBuild": "", "albID": "", "albType": "", "authBuild": "", "cluster": "", "createdDate": "",
                 "disableDeployment": False, "enable": False, "loadBalancerHostname": "", "name": "",
                 "numOfInstances": "", "resize": False, "state": "", "status": "", "zone": ""}


class Peer:
    def __init__(self, url: str, api_key: str, cluster: str):
        self.url, self.cluster = url, cluster
        self.authenticator = IAMAuthenticator(api_key, url=url)
        self.service = BaseService(service_url=url, authenticator=self.authenticator)

    def call(self, method: str, path: str, body: dict | None = None, params: dict | None = None):
        """(status, result) of one request through BaseService, as IBM's generated SDKs send it."""
        headers = {"Accept": "application/json", "X-Region": "us-south"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = self.service.prepare_request(method=method, url=path, headers=headers, params=params,
                                               data=json.dumps(body) if body is not None else None)
        try:
            response = self.service.send(request)
        except ApiException as exc:
            return exc.status_code, {"message": exc.message, "body": exc.http_response.json()}
        return response.get_status_code(), response.get_result()

    def wait_alb(self, get, done, timeout: float = 60) -> list[dict]:
        """Poll like terraform-provider-ibm's waitForContainerALB; every ALB state seen on the way."""
        seen, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            unused_status, alb = get()
            seen.append({k: alb[k] for k in ("enable", "state", "status", "numOfInstances")})
            if done(alb):
                return seen
            time.sleep(0.3)
        raise SystemExit(f"ALB never reached the wanted state: {seen[-3:]}")


def token(peer: Peer, unused_arg: str) -> dict:
    """IAMAuthenticator's token manager decodes exp/iat from the JWT; the signature verifies with IAM's JWKS."""
    manager = peer.authenticator.token_manager
    access_token = manager.get_token()
    keys = jwt.PyJWKClient(f"{peer.url}/identity/keys")
    claims = jwt.decode(access_token, keys.get_signing_key_from_jwt(access_token).key, algorithms=["RS256"],
                        options={"verify_aud": False})
    return {"expire_time": manager.expire_time, "refresh_time": manager.refresh_time, "claims": claims,
            "expires_in": manager.token_info["expires_in"], "token_type": manager.token_info["token_type"]}


def refresh(peer: Peer, unused_arg: str) -> dict:
    """A token used past its exp gets IKS's 401; the authenticator then fetches a new one by itself."""
    list_path = f"/v1/alb/clusters/{peer.cluster}"
    first = peer.authenticator.token_manager.get_token()
    before = peer.call("GET", list_path)[0]
    time.sleep(max(0.0, peer.authenticator.token_manager.expire_time - time.time()) + 1.5)
    # The stale token sent as is, past the authenticator:
    stale = requests.get(f"{peer.url}{list_path}", headers={"Authorization": f"Bearer {first}"}, timeout=30)
    after = peer.call("GET", list_path)[0]
    second = peer.authenticator.token_manager.access_token
    return {"before": before, "stale_status": stale.status_code, "stale_body": stale.json(), "after": after,
            "new_token": second != first}


def classic_list(peer: Peer, unused_arg: str) -> dict:
    """GET /v1/alb/clusters/{idOrName}: the Go SDK reads []ClusterALB, bluemix-go one ClusterALB."""
    status, result = peer.call("GET", f"/v1/alb/clusters/{peer.cluster}")
    clusters = result if isinstance(result, list) else [result]
    return {"status": status, "shape": type(result).__name__,
            "albs": [alb for cluster in clusters for alb in cluster["alb"]],
            "cluster_ids": [cluster["id"] for cluster in clusters]}


def vpc_list(peer: Peer, unused_arg: str) -> dict:
    """GET /v2/alb/getClusterAlbs?cluster=: both IBM clients read one object with 'alb'."""
    status, result = peer.call("GET", "/v2/alb/getClusterAlbs", params={"cluster": peer.cluster})
    return {"status": status, "shape": type(result).__name__, "albs": result["alb"], "id": result["id"]}


def classic_toggle(peer: Peer, alb_id: str) -> dict:
    """terraform-provider-ibm ibm_container_alb: POST /v1/alb/albs with the whole v1 ALBConfig
    (numOfInstances "2"), poll GET /v1/alb/albs/{albID}; then DELETE ...?disableDeployment=false."""
    def get():
        return peer.call("GET", f"/v1/alb/albs/{alb_id}")
    enable = peer.call("POST", "/v1/alb/albs", {**V1_ALB_CONFIG, "albID": alb_id, "enable": True,
                                                "numOfInstances": "2"})[0]
    up = peer.wait_alb(get, lambda a: a["enable"] and a["state"] == "enabled")
    disable = peer.call("DELETE", f"/v1/alb/albs/{alb_id}", params={"disableDeployment": "false"})[0]
    down = peer.wait_alb(get, lambda a: not a["enable"] and a["state"] == "disabled")
    return {"enable": enable, "up": up, "disable": disable, "down": down}


def vpc_toggle(peer: Peer, alb_id: str) -> dict:
    """terraform-provider-ibm ibm_container_vpc_alb: POST /v2/alb/vpc/enableAlb|disableAlb with the whole v2
    AlbConfig, cluster "" included; poll GET /v2/alb/getAlb?albID=."""
    def get():
        return peer.call("GET", "/v2/alb/getAlb", params={"albID": alb_id})
    enable = peer.call("POST", "/v2/alb/vpc/enableAlb", {**V2_ALB_CONFIG, "albID": alb_id, "enable": True})[0]
    up = peer.wait_alb(get, lambda a: a["enable"] and a["state"] == "enabled")
    disable = peer.call("POST", "/v2/alb/vpc/disableAlb", {**V2_ALB_CONFIG, "albID": alb_id})[0]
    down = peer.wait_alb(get, lambda a: not a["enable"] and a["state"] == "disabled")
    return {"enable": enable, "up": up, "disable": disable, "down": down}


def errors(peer: Peer, unused_arg: str) -> dict:
    """What IBM's client makes of IKS's and IAM's error answers."""
    missing = peer.call("GET", "/v1/alb/clusters/no-such-cluster")
    wrong_key = IAMAuthenticator("not-the-key", url=peer.url)
    try:
        wrong_key.token_manager.get_token()
        iam = None
    except ApiException as exc:
        iam = {"status": exc.status_code, "message": exc.message, "body": exc.http_response.json()}
    return {"missing_cluster": {"status": missing[0], **missing[1]}, "iam": iam}


SCENARIOS = {f.__name__: f for f in (token, refresh, classic_list, vpc_list, classic_toggle, vpc_toggle, errors)}

if __name__ == "__main__":
    url, api_key, cluster, scenario = sys.argv[1:5]
    print(json.dumps(SCENARIOS[scenario](Peer(url, api_key, cluster), (sys.argv[5:] or [""])[0])))
