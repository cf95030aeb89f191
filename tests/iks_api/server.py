"""IBM Cloud API emulator for contract and fault tests (DESIGN.md section 6).

Serves, on loopback, the IAM and IKS ALB routes with the request and response shapes of IBM's own clients
(container-services-go-sdk kubernetesserviceapiv1, bluemix-go containerv1/containerv2, ibm-cloud-sdk-core's
IAM token manager); IBM's Python client is run against it in tests/integration/test_ibm_client.py.

    POST   /identity/token                     IAM: form grant_type=urn:ibm:params:oauth:grant-type:apikey,
                                               apikey; answers an RS256 JWT access token (iat, exp, ...)
    GET    /identity/keys                      IAM: the JWKS that verifies those tokens
    GET    /v1/alb/clusters/{idOrName}         classic: {id, region, ..., alb: [...]} (bluemix-go) or, when
                                               configured, [{...}] (container-services-go-sdk)
    GET    /v1/alb/albs/{albID}                classic: one ALB
    POST   /v1/alb/albs                        classic: enable {albID, enable: true, numOfInstances, resize}
    DELETE /v1/alb/albs/{albID}                classic: disable
    GET    /v2/alb/getClusterAlbs?cluster=     classic and VPC: {id, region, ..., alb: [...]}
    GET    /v2/alb/getAlb?albID=               classic and VPC: one ALB
    POST   /v2/alb/vpc/enableAlb|disableAlb    VPC: {albID, cluster (may be ""), ...}

Tokens expire at their ``exp``; a request with an expired or unknown token gets IKS's 401. Enabling or
disabling takes effect asynchronously: the ALB goes "pending", its Deployment in the local cluster is scaled
(numOfInstances, or 0) and, once its pods are ready, the ALB reports state "enabled" with status "healthy"
(public) or "enabled" (private), or state and status "disabled". Test control endpoints under /_emulator/:

    POST /_emulator/config          {"provider": "classic"|"vpc-gen2", "v1_list_shape": "object"|"array",
                                     "token_lifetime": seconds}
    POST /_emulator/albs/{albID}    {"state": ..., "status": ...}: reported instead of the real ones
                                     (null clears); e.g. status "warning", "critical", "pending"
    POST /_emulator/faults          {"path": "/v1/alb", "method": "POST", "responses": [{"status": 429,
                                     "retry_after": 1}, {"status": 500}, {"delay": 2},
                                     {"expire_tokens": true}]}  (consumed in order)
    POST /_emulator/expire-tokens   every issued token becomes invalid (401 until a new one is fetched)
    GET  /_emulator/calls           every API call so far: [{method, path, status, headers, body}]
    POST /_emulator/reset           clear faults, overrides and the call log, restore the configuration
                                     and put the ALBs back as they started
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cluster"))
from harness import Api  # noqa: E402  pylint: disable=wrong-import-position

ALB_LABEL = "ingress.cloud.ibm.com/alb-id"
DEFAULTS = {"provider": "classic", "v1_list_shape": "object", "token_lifetime": 3600}
APIKEY_GRANT = "urn:ibm:params:oauth:grant-type:apikey"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
    """RS256 signatures with a key made at start-up by openssl, published as a JWKS like IAM's."""

    def __init__(self, key_file: Path):
        self.key_file = key_file
        if not key_file.exists():
            subprocess.run(["openssl", "genrsa", "-out", str(key_file), "2048"], check=True, capture_output=True)
        modulus = subprocess.run(["openssl", "rsa", "-in", str(key_file), "-noout", "-modulus"], check=True,
                                 capture_output=True, text=True).stdout.strip().split("=", 1)[1]
        self.kid = "emulator-" + modulus[-12:].lower()
        self.jwks = {"keys": [{"kty": "RSA", "kid": self.kid, "alg": "RS256", "use": "sig",
                               "n": b64url(bytes.fromhex(modulus)), "e": b64url((65537).to_bytes(3, "big"))}]}

    def token(self, claims: dict) -> str:
        header = {"kid": self.kid, "alg": "RS256"}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key_file)], check=True,
                                   input=signing_input.encode(), capture_output=True).stdout
        return f"{signing_input}.{b64url(signature)}"


class Emulator:
    """The emulated account: one cluster, its ALBs (mirrored from the cluster's ALB Deployments), tokens."""

    def __init__(self, api: Api, cluster_id: str, cluster_name: str, api_key: str, provider: str,
                 transition_seconds: float, signer: Signer):
        self.api, self.cluster_id, self.cluster_name = api, cluster_id, cluster_name
        self.api_key, self.transition_seconds, self.signer = api_key, transition_seconds, signer
        self.defaults = {**DEFAULTS, "provider": provider}
        self.config = dict(self.defaults)
        self.account = secrets.token_hex(16)
        self.service_id = f"ServiceId-{uuid.uuid4()}"
        self.tokens: dict[str, float] = {}
        self.faults: list[dict] = []
        self.calls: list[dict] = []
        self.overrides: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.albs = {alb["albID"]: alb for alb in self.discover_albs()}
        self.initial = {alb_id: (alb["enable"], alb["numOfInstances"]) for alb_id, alb in self.albs.items()}

    def discover_albs(self) -> list[dict]:
        deployments = self.api.get(f"/apis/apps/v1/namespaces/kube-system/deployments?labelSelector={ALB_LABEL}")
        albs = []
        for deployment in deployments["items"]:
            labels = deployment["metadata"]["labels"]
            enabled = deployment["spec"]["replicas"] > 0
            alb = {"albID": labels[ALB_LABEL], "albType": labels["ingress.cloud.ibm.com/alb-type"],
                   "zone": labels["ingress.cloud.ibm.com/zone"], "enable": enabled,
                   "numOfInstances": str(deployment["spec"]["replicas"] or 2), "createdDate": "2026-01-01T00:00:00Z"}
            alb["state"], alb["status"] = self.settled(alb)
            albs.append(alb)
        return albs

    @staticmethod
    def settled(alb: dict) -> tuple[str, str]:
        """(state, status) once IKS finished: IBM documents enabled private ALBs with status "enabled"."""
        if not alb["enable"]:
            return "disabled", "disabled"
        return "enabled", "healthy" if alb["albType"] == "public" else "enabled"

    @property
    def vpc(self) -> bool:
        return self.config["provider"] != "classic"

    def view(self, alb: dict) -> dict:
        """One ALB with the fields IKS returns for the cluster's provider (v1 ALBConfig or v2 VpcALBConfig)."""
        reported = {**alb, **{k: v for k, v in self.overrides.get(alb["albID"], {}).items() if v is not None}}
        common = {"albBuild": "1.12.1_5000_iks", "albID": alb["albID"], "albType": alb["albType"],
                  "createdDate": alb["createdDate"], "disableDeployment": False, "enable": alb["enable"],
                  "name": "", "numOfInstances": alb["numOfInstances"], "resize": False,
                  "state": reported["state"], "status": reported["status"], "zone": alb["zone"]}
        if self.vpc:
            return {**common, "authBuild": "", "cluster": self.cluster_id,
                    "loadBalancerHostname": f"{self.account[:8]}-{alb['zone']}.lb.appdomain.cloud"
                    if alb["enable"] else ""}
        return {**common, "albip": "10.0.0.10" if alb["enable"] and alb["albType"] == "private" else "",
                "clusterID": self.cluster_id, "vlanID": "2263903" if alb["albType"] == "public" else "2263901"}

    def cluster(self, hostname_key: str) -> dict:
        return {"id": self.cluster_id, "region": "us-south", "dataCenter": "dal10", "isPaid": True,
                hostname_key: f"{self.cluster_name}.{self.account[:12]}-0000.us-south.containers.appdomain.cloud",
                hostname_key.replace("Hostname", "SecretName"): f"{self.cluster_name}-{self.account[:12]}-0000",
                "alb": [self.view(alb) for alb in self.albs.values()]}

    def cluster_matches(self, id_or_name: str) -> bool:
        return id_or_name in (self.cluster_id, self.cluster_name)

    def issue_token(self) -> dict:
        now = int(time.time())
        lifetime = int(self.config["token_lifetime"])
        claims = {"iam_id": f"iam-{self.service_id}", "id": f"iam-{self.service_id}", "realmid": "iam",
                  "jti": str(uuid.uuid4()), "identifier": self.service_id, "name": "secure-cluster-tests",
                  "sub": self.service_id, "sub_type": "ServiceId",
                  "account": {"valid": True, "bss": self.account, "frozen": True},
                  "iat": now, "exp": now + lifetime, "iss": "https://iam.cloud.ibm.com/identity",
                  "grant_type": APIKEY_GRANT, "scope": "ibm openid", "client_id": "default",
                  "acr": 1, "amr": ["pwd"]}
        token = self.signer.token(claims)
        with self.lock:
            self.tokens[token] = now + lifetime
        return {"access_token": token, "refresh_token": "not_supported", "token_type": "Bearer",
                "expires_in": lifetime, "expiration": now + lifetime, "scope": "ibm openid"}

    def token_valid(self, token: str) -> bool:
        with self.lock:
            return self.tokens.get(token, 0) > time.time()

    def set_alb(self, alb_id: str, enable: bool, instances: int | None = None) -> None:
        """Start an asynchronous enable/disable/resize: pending now, the Deployment scaled and the state set
        later."""
        with self.lock:
            alb = self.albs[alb_id]
            alb["enable"], alb["state"], alb["status"] = enable, "pending", "pending"
            if instances:
                alb["numOfInstances"] = str(instances)
        threading.Thread(target=self.converge, args=(alb_id,), daemon=True).start()

    def restore(self) -> None:
        """Put every ALB back in its initial state, synchronously (between tests)."""
        for alb_id, (enable, instances) in self.initial.items():
            alb = self.albs[alb_id]
            alb["enable"], alb["numOfInstances"] = enable, instances
            self.converge(alb_id, delay=0)

    def converge(self, alb_id: str, delay: float | None = None) -> None:
        time.sleep(self.transition_seconds if delay is None else delay)
        alb = self.albs[alb_id]
        replicas = int(alb["numOfInstances"]) if alb["enable"] else 0
        path = f"/apis/apps/v1/namespaces/kube-system/deployments/{alb_id}"
        self.api.request("PATCH", path, {"spec": {"replicas": replicas}},
                         content_type="application/merge-patch+json")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = self.api.get(path).get("status", {})
            if (status.get("readyReplicas") or 0) == replicas and (status.get("replicas") or 0) == replicas:
                break
            time.sleep(0.2)
        with self.lock:
            alb["state"], alb["status"] = self.settled(alb)


def iks_error(code: str, description: str, kind: str, recovery: str = "") -> dict:
    """IKS's error body: incidentID, code, description, type (and recoveryCLI where there is one)."""
    body = {"incidentID": str(uuid.uuid4()), "code": code, "description": description, "type": kind}
    if recovery:
        body["recoveryCLI"] = recovery
    return body


def iam_error(code: str, message: str) -> dict:
    """IAM's error body: errorCode, errorMessage and a context with the request ID."""
    return {"errorCode": code, "errorMessage": message,
            "context": {"requestId": str(uuid.uuid4()), "requestType": "incoming.Identity_Token",
                        "url": "https://iam.cloud.ibm.com", "locale": "en_US"}}


CLUSTER_NOT_FOUND = ("E0008", "The specified cluster could not be found. Target the region that the cluster "
                     "is in and try again.", "Provisioning", "To list the clusters you have access to, run "
                     "'ibmcloud ks cluster ls'.")


class Handler(BaseHTTPRequestHandler):
    server_version = "iks-api-emulator"
    emulator: Emulator

    def log_message(self, *args):  # the call log replaces access logs
        pass

    def reply(self, status: int, body=None, headers: dict | None = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        if not self.path.startswith("/_emulator"):
            with self.emulator.lock:
                self.emulator.calls.append({
                    "method": self.command, "path": self.path, "status": status,
                    "headers": {k: self.headers[k] for k in ("X-Region", "X-Auth-Resource-Group")
                                if self.headers.get(k)},
                    "body": None if self.path == "/identity/token" else getattr(self, "request_body", None)})

    def body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
        self.request_body = json.loads(raw) if raw else None  # pylint: disable=attribute-defined-outside-init
        return self.request_body or {}

    def injected_fault(self) -> bool:
        """Apply the next matching injected fault; True when it answered the request."""
        with self.emulator.lock:
            fault = next((f for f in self.emulator.faults if self.path.startswith(f.get("path", "/"))
                          and f.get("method", self.command) == self.command and f["responses"]), None)
            response = fault["responses"].pop(0) if fault else None
        if not response:
            return False
        if response.get("delay"):
            time.sleep(response["delay"])
        if response.get("expire_tokens"):
            with self.emulator.lock:
                self.emulator.tokens.clear()
        if not response.get("status"):
            return False
        headers = {"Retry-After": str(response["retry_after"])} if "retry_after" in response else {}
        body = response.get("body") or iks_error("E_FAULT", f"injected {response['status']}", "Fault")
        self.reply(response["status"], body, headers)
        return True

    def authorised(self) -> bool:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.emulator.token_valid(token):
            return True
        self.reply(401, iks_error("E0045", "The provided IAM token is not valid or has expired.", "Authentication",
                                  "Log in again with 'ibmcloud login' and try again."))
        return False

    def route(self) -> None:  # pylint: disable=too-many-return-statements,too-many-branches
        url = urllib.parse.urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        emulator = self.emulator
        if parts[:1] == ["_emulator"]:
            return self.control(parts[1:])
        if self.injected_fault():
            return None
        if url.path == "/identity/token" and self.command == "POST":
            return self.token()
        if url.path == "/identity/keys" and self.command == "GET":
            return self.reply(200, emulator.signer.jwks)
        if not self.authorised():
            return None
        if parts[:2] == ["v1", "alb"] and emulator.vpc:
            return self.reply(400, iks_error("E0017", "This operation is not supported for VPC clusters. Use the "
                                                      "/v2/alb API.", "BadRequest"))
        if parts[:3] == ["v1", "alb", "clusters"] and self.command == "GET" and len(parts) == 4:
            if not emulator.cluster_matches(parts[3]):
                return self.reply(404, iks_error(*CLUSTER_NOT_FOUND))
            cluster = emulator.cluster("ingressHostname")
            return self.reply(200, [cluster] if emulator.config["v1_list_shape"] == "array" else cluster)
        if parts[:3] == ["v1", "alb", "albs"] and self.command == "GET" and len(parts) == 4:
            return self.one_alb(parts[3])
        if parts == ["v1", "alb", "albs"] and self.command == "POST":
            return self.classic_enable(self.body())
        if parts[:3] == ["v1", "alb", "albs"] and self.command == "DELETE" and len(parts) == 4:
            return self.toggle(parts[3], False)
        if parts == ["v2", "alb", "getClusterAlbs"] and self.command == "GET":
            if not emulator.cluster_matches(query.get("cluster", "")):
                return self.reply(404, iks_error(*CLUSTER_NOT_FOUND))
            return self.reply(200, emulator.cluster("publicIngressHostname"))
        if parts == ["v2", "alb", "getAlb"] and self.command == "GET":
            return self.one_alb(query.get("albID", ""))
        if parts[:3] == ["v2", "alb", "vpc"] and self.command == "POST" and parts[3:] in (
                ["enableAlb"], ["disableAlb"]):
            return self.vpc_toggle(self.body(), parts[3] == "enableAlb")
        return self.reply(404, iks_error("E0001", f"No route for {self.command} {url.path}", "NotFound"))

    def token(self) -> None:
        form = self.body()
        if form.get("grant_type") != APIKEY_GRANT:
            return self.reply(400, iam_error("BXNIM0103E", "Unsupported grant_type"))
        if not form.get("apikey"):
            return self.reply(400, iam_error("BXNIM0109E", "Property missing or empty. Property: apikey"))
        if form.get("apikey") != self.emulator.api_key:
            return self.reply(400, iam_error("BXNIM0415E", "Provided API key could not be found."))
        return self.reply(200, self.emulator.issue_token())

    def one_alb(self, alb_id: str) -> None:
        if alb_id not in self.emulator.albs:
            return self.alb_not_found(alb_id)
        return self.reply(200, self.emulator.view(self.emulator.albs[alb_id]))

    def alb_not_found(self, alb_id) -> None:
        return self.reply(404, iks_error("E0009", f"The specified ALB ID '{alb_id}' could not be found.",
                                         "BadRequest", "To list ALBs, run 'ibmcloud ks ingress alb ls'."))

    def classic_enable(self, request: dict) -> None:
        """POST /v1/alb/albs with a v1 ALBConfig: enable, or (resize: true) change an enabled ALB's
        numOfInstances. Empty strings stand for fields the client did not set (bluemix-go sends them all)."""
        if request.get("enable") is not True:
            return self.reply(400, iks_error("E0036", "To disable an ALB, use DELETE /v1/alb/albs/{albID}.",
                                             "BadRequest"))
        alb_id = request.get("albID")
        if alb_id not in self.emulator.albs:
            return self.alb_not_found(alb_id)
        instances = request.get("numOfInstances") or ""
        if instances and not str(instances).isdigit() or str(instances) == "0":
            return self.reply(400, iks_error("E0037", f"numOfInstances '{instances}' is not a positive number.",
                                             "BadRequest"))
        alb = self.emulator.albs[alb_id]
        if alb["enable"] and not request.get("resize"):
            instances = ""  # an enabled ALB keeps its size unless asked to resize
        return self.toggle(alb_id, True, instances)

    def vpc_toggle(self, request: dict, enable: bool) -> None:
        """POST /v2/alb/vpc/enableAlb|disableAlb with a v2 AlbConfig; Terraform sends cluster "": the ALB ID
        names the cluster then."""
        if not self.emulator.vpc:
            return self.reply(400, iks_error("E0016", "This operation is supported for VPC clusters only. Use the "
                                                      "/v1/alb API for classic clusters.", "BadRequest"))
        if request.get("cluster") and not self.emulator.cluster_matches(request["cluster"]):
            return self.reply(404, iks_error(*CLUSTER_NOT_FOUND))
        return self.toggle(request.get("albID"), enable)

    def toggle(self, alb_id: str | None, enable: bool, instances=None) -> None:
        if alb_id not in self.emulator.albs:
            return self.alb_not_found(alb_id)
        self.emulator.set_alb(alb_id, enable, int(instances) if instances else None)
        return self.reply(204)

    def control(self, parts: list[str]) -> None:  # pylint: disable=too-many-return-statements
        emulator = self.emulator
        if parts == ["config"] and self.command == "POST":
            request = self.body()
            unknown = set(request) - set(DEFAULTS)
            if unknown:
                return self.reply(400, {"error": f"unknown settings {sorted(unknown)}"})
            with emulator.lock:
                emulator.config.update(request)
            return self.reply(200, emulator.config)
        if parts[:1] == ["albs"] and len(parts) == 2 and self.command == "POST":
            if parts[1] not in emulator.albs:
                return self.reply(404, {"error": f"no ALB {parts[1]}"})
            with emulator.lock:
                emulator.overrides.setdefault(parts[1], {}).update(self.body())
            return self.reply(204)
        if parts == ["faults"] and self.command == "POST":
            with emulator.lock:
                emulator.faults.append(self.body())
            return self.reply(204)
        if parts == ["expire-tokens"] and self.command == "POST":
            with emulator.lock:
                emulator.tokens.clear()
            return self.reply(204)
        if parts == ["calls"] and self.command == "GET":
            with emulator.lock:
                return self.reply(200, list(emulator.calls))
        if parts == ["reset"] and self.command == "POST":
            with emulator.lock:
                emulator.faults.clear()
                emulator.calls.clear()
                emulator.overrides.clear()
                emulator.config = dict(emulator.defaults)
            emulator.restore()
            return self.reply(204)
        return self.reply(404, {"error": "unknown control endpoint"})

    do_GET = do_POST = do_DELETE = do_PUT = route


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster-dir", required=True, type=Path)
    parser.add_argument("--server", required=True, help="API server URL of the local cluster")
    parser.add_argument("--cluster-id", required=True)
    parser.add_argument("--cluster-name", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--port-file", required=True, type=Path)
    parser.add_argument("--provider", choices=["classic", "vpc-gen2"], default="classic",
                        help="the cluster's infrastructure provider (tests may switch it with /_emulator/config)")
    parser.add_argument("--transition-seconds", type=float, default=0.5)
    args = parser.parse_args(argv)
    api = Api(args.server, args.cluster_dir / "pki")
    Handler.emulator = Emulator(api, args.cluster_id, args.cluster_name, args.api_key, args.provider,
                                args.transition_seconds, Signer(args.cluster_dir / "iks-api-signing.pem"))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    args.port_file.write_text(str(httpd.server_address[1]))
    httpd.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
