"""IBM Cloud API emulator for contract and fault tests (DESIGN.md section 6).

Serves, on loopback, the endpoints the collection's `iks` ALB backend uses, with IBM's field names:

    POST   /identity/token                     IAM: grant_type=urn:ibm:params:oauth:grant-type:apikey, apikey
    GET    /v1/alb/clusters/{idOrName}         classic: cluster with its "alb" list
    POST   /v1/alb/albs                        classic: enable {albID, enable: true, numOfInstances}
    DELETE /v1/alb/albs/{albID}                classic: disable
    GET    /v2/alb/getClusterAlbs?cluster=     VPC: the ALB list
    POST   /v2/alb/vpc/enableAlb|disableAlb    VPC: {cluster, albID}

A bearer token from /identity/token is required. Enabling or disabling takes effect asynchronously: the ALB
goes "pending", then its Deployment in the local cluster is scaled (numOfInstances or 0) and, once its
pods are ready, the ALB reports "enabled"/"disabled". Test control endpoints under /_emulator/:

    POST /_emulator/faults          {"path": "/v1/alb", "method": "POST", "responses": [{"status": 429,
                                     "retry_after": 1}, {"status": 500}, {"delay": 2},
                                     {"expire_tokens": true}]}  (consumed in order)
    POST /_emulator/expire-tokens   every issued token becomes invalid (401 until a new one is fetched)
    GET  /_emulator/calls           every API call so far: [{method, path, status, headers (region, group)}]
    POST /_emulator/reset           clear faults and the call log, put the ALBs back as they started
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cluster"))
from harness import Api  # noqa: E402  pylint: disable=wrong-import-position

TOKEN_LIFETIME = 3600
ALB_LABEL = "ingress.cloud.ibm.com/alb-id"


class Emulator:
    """The emulated account: one cluster, its ALBs (mirrored from the cluster's ALB Deployments), tokens."""

    def __init__(self, api: Api, cluster_id: str, cluster_name: str, api_key: str, provider: str,
                 transition_seconds: float):
        self.api, self.cluster_id, self.cluster_name = api, cluster_id, cluster_name
        self.api_key, self.provider, self.transition_seconds = api_key, provider, transition_seconds
        self.tokens: set[str] = set()
        self.faults: list[dict] = []
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        self.albs = {alb["albID"]: alb for alb in self.discover_albs()}
        self.initial = {alb_id: (alb["enable"], alb["numOfInstances"]) for alb_id, alb in self.albs.items()}

    def discover_albs(self) -> list[dict]:
        deployments = self.api.get(f"/apis/apps/v1/namespaces/kube-system/deployments?labelSelector={ALB_LABEL}")
        albs = []
        for deployment in deployments["items"]:
            labels = deployment["metadata"]["labels"]
            enabled = deployment["spec"]["replicas"] > 0
            albs.append({
                "albID": labels[ALB_LABEL], "albType": labels["ingress.cloud.ibm.com/alb-type"],
                "enable": enabled, "state": "enabled" if enabled else "disabled",
                "status": "healthy" if enabled else "disabled", "zone": labels["ingress.cloud.ibm.com/zone"],
                "numOfInstances": str(deployment["spec"]["replicas"] or 2), "albBuild": "1.12.1_5000_iks",
                "albip": "", "name": "", "createdDate": "2026-01-01T00:00:00Z", "disableDeployment": False,
                "resize": False, "vlanID": "2263903" if labels["ingress.cloud.ibm.com/alb-type"] == "public"
                else "2263901",
            })
        return albs

    def cluster_matches(self, id_or_name: str) -> bool:
        return id_or_name in (self.cluster_id, self.cluster_name)

    def set_alb(self, alb_id: str, enable: bool, instances: int | None = None) -> None:
        """Start an asynchronous enable/disable: pending now, the Deployment scaled and the state set later."""
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
            alb["state"] = "enabled" if alb["enable"] else "disabled"
            alb["status"] = "healthy" if alb["enable"] else "disabled"


def error(code: str, description: str, kind: str) -> dict:
    return {"incidentID": secrets.token_hex(8), "code": code, "description": description, "type": kind}


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
                self.emulator.calls.append({"method": self.command, "path": self.path, "status": status, "headers": {
                    k: self.headers[k] for k in ("X-Region", "X-Auth-Resource-Group") if self.headers.get(k)}})

    def body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
        return json.loads(raw) if raw else {}

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
            self.emulator.tokens.clear()
        if not response.get("status"):
            return False
        headers = {"Retry-After": str(response["retry_after"])} if "retry_after" in response else {}
        self.reply(response["status"], error("E_FAULT", f"injected {response['status']}", "Fault"), headers)
        return True

    def authorised(self) -> bool:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if token in self.emulator.tokens:
            return True
        self.reply(401, error("E0045", "The provided token is not valid or has expired.", "Authentication"))
        return False

    def route(self) -> None:
        url = urllib.parse.urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        emulator = self.emulator
        if parts[:1] == ["_emulator"]:
            return self.control(parts[1:])
        if self.injected_fault():
            return None
        if url.path == "/identity/token" and self.command == "POST":
            return self.token()
        if not self.authorised():
            return None
        if parts[:3] == ["v1", "alb", "clusters"] and self.command == "GET" and len(parts) == 4:
            if not emulator.cluster_matches(parts[3]):
                return self.reply(404, error("E0008", "The specified cluster could not be found.", "BadRequest"))
            return self.reply(200, {"id": emulator.cluster_id, "name": emulator.cluster_name,
                                    "region": "us-south", "dataCenter": "dal10",
                                    "isPaid": True, "alb": list(emulator.albs.values())})
        if parts == ["v1", "alb", "albs"] and self.command == "POST":
            request = self.body()
            return self.toggle(request.get("albID"), bool(request.get("enable")), request.get("numOfInstances"))
        if parts[:3] == ["v1", "alb", "albs"] and self.command == "DELETE" and len(parts) == 4:
            return self.toggle(parts[3], False)
        if parts == ["v2", "alb", "getClusterAlbs"] and self.command == "GET":
            cluster = urllib.parse.parse_qs(url.query).get("cluster", [""])[0]
            if not emulator.cluster_matches(cluster):
                return self.reply(404, error("E0008", "The specified cluster could not be found.", "BadRequest"))
            return self.reply(200, list(emulator.albs.values()))
        if parts[:3] == ["v2", "alb", "vpc"] and self.command == "POST" and len(parts) == 4:
            request = self.body()
            if not emulator.cluster_matches(request.get("cluster", "")):
                return self.reply(404, error("E0008", "The specified cluster could not be found.", "BadRequest"))
            if parts[3] in ("enableAlb", "disableAlb"):
                return self.toggle(request.get("albID"), parts[3] == "enableAlb")
        return self.reply(404, error("E0001", f"No route for {self.command} {url.path}", "NotFound"))

    def token(self) -> None:
        form = self.body()
        if form.get("grant_type") != "urn:ibm:params:oauth:grant-type:apikey":
            return self.reply(400, {"errorCode": "BXNIM0103E", "errorMessage": "Unsupported grant_type"})
        if form.get("apikey") != self.emulator.api_key:
            return self.reply(400, {"errorCode": "BXNIM0415E",
                                    "errorMessage": "Provided API key could not be found."})
        token = secrets.token_urlsafe(24)
        self.emulator.tokens.add(token)
        return self.reply(200, {"access_token": token, "refresh_token": "not-supported", "token_type": "Bearer",
                                "expires_in": TOKEN_LIFETIME, "expiration": int(time.time()) + TOKEN_LIFETIME,
                                "scope": "ibm openid"})

    def toggle(self, alb_id: str | None, enable: bool, instances=None) -> None:
        if alb_id not in self.emulator.albs:
            return self.reply(404, error("E0009", f"The specified ALB ID '{alb_id}' could not be found.",
                                         "BadRequest"))
        self.emulator.set_alb(alb_id, enable, int(instances) if instances else None)
        return self.reply(204)

    def control(self, parts: list[str]) -> None:
        emulator = self.emulator
        if parts == ["faults"] and self.command == "POST":
            with emulator.lock:
                emulator.faults.append(self.body())
            return self.reply(204)
        if parts == ["expire-tokens"] and self.command == "POST":
            emulator.tokens.clear()
            return self.reply(204)
        if parts == ["calls"] and self.command == "GET":
            with emulator.lock:
                return self.reply(200, list(emulator.calls))
        if parts == ["reset"] and self.command == "POST":
            with emulator.lock:
                emulator.faults.clear()
                emulator.calls.clear()
            emulator.restore()
            return self.reply(204)
        return self.reply(404, error("E0001", "unknown control endpoint", "NotFound"))

    do_GET = do_POST = do_DELETE = do_PUT = route


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster-dir", required=True, type=Path)
    parser.add_argument("--server", required=True, help="API server URL of the local cluster")
    parser.add_argument("--cluster-id", required=True)
    parser.add_argument("--cluster-name", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--port-file", required=True, type=Path)
    parser.add_argument("--transition-seconds", type=float, default=0.5)
    args = parser.parse_args(argv)
    api = Api(args.server, args.cluster_dir / "pki")
    Handler.emulator = Emulator(api, args.cluster_id, args.cluster_name, args.api_key, "classic",
                                args.transition_seconds)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    args.port_file.write_text(str(httpd.server_address[1]))
    httpd.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
