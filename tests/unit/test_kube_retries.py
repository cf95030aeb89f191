"""kube.Kube retries transient failures with bounded backoff, against a real (local) HTTP server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import (
    Kube, KubeError, build_configuration)


class Script(BaseHTTPRequestHandler):
    """Answers each request with the next (status, headers, body) of the server's script."""

    def do_GET(self):  # noqa: N802 (http.server naming)
        self.server.seen.append((self.command, self.path, self.headers.get("User-Agent")))
        self.server.auth.append(self.headers.get("Authorization"))
        status, headers, body = self.server.script.pop(0) if self.server.script else (200, {}, {"kind": "NodeList"})
        payload = json.dumps(body).encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_PATCH = do_GET

    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Script)
    httpd.script, httpd.seen, httpd.auth = [], [], []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()


def kube_for(server, retries=5):
    config = build_configuration({"host": f"http://127.0.0.1:{server.server_address[1]}", "api_key": "t0ken"})
    return Kube(config, retries=retries, backoff=0.01, agent="secure_cluster/test")


def status(code, reason, message="", headers=None):
    return (code, headers or {}, {"kind": "Status", "code": code, "reason": reason, "message": message})


def test_transient_5xx_is_retried_until_it_succeeds(server):
    server.script = [status(503, "ServiceUnavailable"), status(500, "InternalError")]
    kube = kube_for(server)
    assert kube.get("/api/v1/nodes") == {"kind": "NodeList"}
    assert kube.reads == 3
    assert [seen[2] for seen in server.seen] == ["secure_cluster/test"] * 3


def test_conflict_is_retried(server):
    server.script = [status(409, "Conflict", "the object has been modified")]
    kube = kube_for(server)
    assert kube.patch("/api/v1/nodes/a", {"metadata": {}}) == {"kind": "NodeList"}
    assert kube.writes == 2


def test_retries_are_bounded_and_the_error_names_the_server_and_cause(server):
    server.script = [status(503, "ServiceUnavailable", "etcd is down")] * 10
    kube = kube_for(server, retries=3)
    with pytest.raises(KubeError) as err:
        kube.get("/api/v1/nodes")
    assert len(server.seen) == 3
    assert str(err.value) == (f"GET /api/v1/nodes on {kube.host}: HTTP 503 ServiceUnavailable: etcd is down")


def test_429_honours_retry_after(server, monkeypatch):
    slept = []
    monkeypatch.setattr("time.sleep", slept.append)
    server.script = [status(429, "TooManyRequests", headers={"Retry-After": "2"})]
    assert kube_for(server).get("/api/v1/nodes") == {"kind": "NodeList"}
    assert slept == [2.0]


def test_client_errors_are_not_retried(server):
    server.script = [status(404, "NotFound", 'nodes "x" not found')] * 2
    kube = kube_for(server)
    with pytest.raises(KubeError, match='HTTP 404 NotFound: nodes "x" not found'):
        kube.get("/api/v1/nodes/x")
    assert len(server.seen) == 1
    assert kube.get_or_none("/api/v1/nodes/x") is None
    assert len(server.seen) == 2


def test_the_bearer_token_is_sent_but_never_in_errors(server):
    server.script = [status(401, "Unauthorized", "Unauthorized")]
    with pytest.raises(KubeError) as err:
        kube_for(server).get("/api/v1/nodes")
    assert server.auth == ["Bearer t0ken"]
    assert "t0ken" not in str(err.value)
