"""kube.Kube retries transient failures with bounded backoff, against a real (local) HTTP server."""

from __future__ import annotations

import json
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import urllib3

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import (
    Kube, KubeError, build_configuration, connection_failure)


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


# Connection faults, from a real socket server: each accepted connection gets the next action of its script.
# "reset": read the request, then close with SO_LINGER 0 (a TCP RST, "connection reset by peer");
# "cut": send the headers and half the body, then reset (IncompleteRead); "ok": a whole 200 answer.
# The server keeps what it received, so a test can tell whether a request was sent again.

class FaultServer:
    def __init__(self, script, answers=None, port=0):
        self.script = list(script)
        self.answers = answers or {}
        self.requests: list[tuple[str, str, bytes]] = []
        self.sock = socket.create_server(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, unused = self.sock.accept()
            except OSError:
                return
            with conn:
                request = self.read_request(conn)
                if request is None:
                    continue
                self.requests.append(request)
                action = self.script.pop(0) if self.script else "ok"
                status, body = self.answers.get((request[0], request[1].split("?")[0]), (200, {"kind": "Answer"}))
                payload = json.dumps(body).encode()
                head = (f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}"
                        f"\r\nConnection: close\r\n\r\n").encode()
                if action == "ok":
                    conn.sendall(head + payload)
                    continue
                if action == "cut":
                    conn.sendall(head + payload[: len(payload) // 2])
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    @staticmethod
    def read_request(conn):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), 0)
        while len(rest) < length:
            rest += conn.recv(65536)
        method, path = lines[0].split()[:2]
        return method, path, rest

    def kube(self, retries=5):
        config = build_configuration({"host": f"http://127.0.0.1:{self.port}", "api_key": "t0ken"})
        return Kube(config, retries=retries, backoff=0.01, agent="secure_cluster/test")

    def close(self):
        self.sock.close()


@pytest.fixture
def faults():
    made = []

    def make(script, answers=None):
        made.append(FaultServer(script, answers))
        return made[-1]
    yield make
    for server in made:
        server.close()


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


@pytest.mark.parametrize("fault", ["reset", "cut"])
def test_a_get_is_sent_again_after_a_reset_or_a_response_cut_short(faults, fault):
    server = faults([fault])
    assert server.kube().get("/api/v1/nodes") == {"kind": "Answer"}
    assert [r[:2] for r in server.requests] == [("GET", "/api/v1/nodes")] * 2


@pytest.mark.parametrize("patch_type", ["merge", "strategic", "apply"])
def test_a_patch_is_sent_again_after_a_reset(faults, patch_type):
    server = faults(["reset"])
    server.kube().patch("/api/v1/nodes/w1", {"metadata": {"labels": {"a": "b"}}}, patch_type=patch_type)
    assert [r[0] for r in server.requests] == ["PATCH", "PATCH"]
    assert server.requests[0][2] == server.requests[1][2]


def test_a_json_patch_is_not_sent_again_after_a_reset(faults):
    server = faults(["reset"])
    with pytest.raises(KubeError, match="is not sent again blindly, as the server may have acted on it"):
        server.kube().patch("/api/v1/nodes/w1", [{"op": "add", "path": "/spec/taints/-", "value": {}}],
                            patch_type="json")
    assert len(server.requests) == 1


def test_a_delete_whose_answer_was_lost_and_whose_resend_finds_nothing_succeeded(faults):
    server = faults(["reset"], {("DELETE", "/api/v1/namespaces/a/configmaps/c"): (404, {"kind": "Status", "code": 404,
                                                                                        "reason": "NotFound"})})
    assert server.kube().request("DELETE", "/api/v1/namespaces/a/configmaps/c") == {}
    assert [r[0] for r in server.requests] == ["DELETE", "DELETE"]


def test_a_delete_answered_404_without_a_broken_connection_is_still_an_error(faults):
    not_found = {"kind": "Status", "code": 404, "reason": "NotFound"}
    server = faults([], {("DELETE", "/api/v1/namespaces/a/configmaps/c"): (404, not_found)})
    with pytest.raises(KubeError) as err:
        server.kube().request("DELETE", "/api/v1/namespaces/a/configmaps/c")
    assert err.value.status == 404


CREATE = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "a"}, "data": {"k": "v"}}


def test_a_create_whose_answer_was_lost_is_read_back_and_not_sent_again_when_it_is_there(faults):
    stored = {**CREATE, "metadata": {**CREATE["metadata"], "uid": "u1", "resourceVersion": "7"}}
    server = faults(["reset"], {("GET", "/api/v1/namespaces/a/configmaps/c"): (200, stored)})
    assert server.kube().request("POST", "/api/v1/namespaces/a/configmaps", body=CREATE) == stored
    assert [r[:2] for r in server.requests] == [("POST", "/api/v1/namespaces/a/configmaps"),
                                                ("GET", "/api/v1/namespaces/a/configmaps/c")]


def test_a_create_whose_answer_was_lost_is_sent_once_more_when_the_object_is_absent(faults):
    server = faults(["reset"], {("GET", "/api/v1/namespaces/a/configmaps/c"): (404, {"kind": "Status", "code": 404})})
    server.kube().request("POST", "/api/v1/namespaces/a/configmaps", body=CREATE)
    assert [r[0] for r in server.requests] == ["POST", "GET", "POST"]


def test_a_create_whose_answer_was_lost_fails_when_the_object_differs(faults):
    other = {**CREATE, "data": {"k": "someone else's"}}
    server = faults(["reset"], {("GET", "/api/v1/namespaces/a/configmaps/c"): (200, other)})
    with pytest.raises(KubeError, match="now differs from what was sent: someone else may have changed it"):
        server.kube().request("POST", "/api/v1/namespaces/a/configmaps", body=CREATE)
    assert [r[0] for r in server.requests] == ["POST", "GET"]


def test_a_create_without_a_name_is_never_sent_again(faults):
    server = faults(["reset"])
    with pytest.raises(KubeError, match="not sent again blindly"):
        server.kube().request("POST", "/api/v1/namespaces/a/configmaps",
                              body={"metadata": {"generateName": "c-"}, "data": {}})
    assert len(server.requests) == 1


def test_a_replace_whose_answer_was_lost_is_done_when_the_object_holds_what_was_sent(faults):
    sent = {**CREATE, "metadata": {**CREATE["metadata"], "resourceVersion": "7"}}
    stored = {**CREATE, "metadata": {**CREATE["metadata"], "resourceVersion": "8"}}
    server = faults(["reset"], {("GET", "/api/v1/namespaces/a/configmaps/c"): (200, stored)})
    assert server.kube().request("PUT", "/api/v1/namespaces/a/configmaps/c", body=sent,
                                 retry_conflict=False) == stored
    assert [r[0] for r in server.requests] == ["PUT", "GET"]


def test_self_reviews_store_nothing_so_they_are_sent_again(faults):
    server = faults(["cut"])
    server.kube().request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                          body={"kind": "SelfSubjectAccessReview", "spec": {}})
    assert [r[0] for r in server.requests] == ["POST", "POST"]


def test_an_eviction_whose_answer_was_lost_and_whose_pod_is_gone_succeeded(faults):
    path = "/api/v1/namespaces/a/pods/p/eviction"
    server = faults(["reset"], {("POST", path): (404, {"kind": "Status", "code": 404, "reason": "NotFound"})})
    assert server.kube().request("POST", path, body={"kind": "Eviction", "metadata": {"name": "p"}}) == {}
    assert [r[0] for r in server.requests] == ["POST", "POST"]


def test_a_refused_connection_is_retried_with_backoff_for_any_request_then_fails_clearly(monkeypatch):
    slept = []
    monkeypatch.setattr("time.sleep", slept.append)
    port = closed_port()
    kube = Kube(build_configuration({"host": f"http://127.0.0.1:{port}"}), retries=4, backoff=0.2)
    with pytest.raises(KubeError) as err:
        kube.request("POST", "/api/v1/namespaces/a/configmaps", body={"metadata": {"generateName": "c-"}})
    assert str(err.value) == (f"cannot reach the Kubernetes API server at http://127.0.0.1:{port}: "
                              f"connection refused (after 4 attempts)")
    assert slept == [0.2, 0.4, 0.8]
    assert kube.writes == 4


def test_a_server_that_comes_back_is_reached(monkeypatch):
    """Refused twice (the API server restarting), then answering on the same port: the request goes through."""
    port = closed_port()
    back: list[FaultServer] = []

    def come_back_on_second_sleep(unused_delay):
        if len(slept) == 1:
            back.append(FaultServer([], port=port))
        slept.append(unused_delay)
    slept: list = []
    monkeypatch.setattr("time.sleep", come_back_on_second_sleep)
    kube = Kube(build_configuration({"host": f"http://127.0.0.1:{port}"}), retries=5, backoff=0.01)
    try:
        assert kube.get("/version") == {"kind": "Answer"}
    finally:
        for server in back:
            server.close()
    assert len(slept) == 2 and len(back[0].requests) == 1


def test_a_server_that_accepts_but_never_answers_is_asked_once_then_fails_clearly(monkeypatch):
    """A stopped API server (SIGSTOP): the kernel completes the TCP handshake, nothing answers. client-go does not
    retry a timeout, and each resend would hold the run for another timeout."""
    slept = []
    monkeypatch.setattr("time.sleep", slept.append)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listening, never accepting: the backlog takes it
        port = silent.getsockname()[1]
        kube = Kube(build_configuration({"host": f"http://127.0.0.1:{port}"}), retries=5, timeout=0.3)
        with pytest.raises(KubeError) as err:
            kube.get("/api/v1/nodes")
    assert str(err.value) == (f"cannot reach the Kubernetes API server at http://127.0.0.1:{port}: "
                              f"no answer within 0.3 s to GET /api/v1/nodes")
    assert kube.reads == 1 and slept == []


def test_timeouts_are_not_resent_but_refusals_are():
    assert connection_failure(urllib3.exceptions.ReadTimeoutError(None, "/", "Read timed out.")) == "timeout"
    assert connection_failure(urllib3.exceptions.ConnectTimeoutError(None, "timed out")) == "timeout"
    assert connection_failure(urllib3.exceptions.NewConnectionError(None, "Connection refused")) == "unsent"


def test_a_tls_certificate_error_is_not_retried_but_a_handshake_cut_short_is():
    assert connection_failure(urllib3.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
                                                          "failed")) is None
    assert connection_failure(urllib3.exceptions.SSLError("EOF occurred in violation of protocol")) == "unsent"


def test_the_ibm_cloud_client_sends_again_after_a_reset_and_a_refused_connection_fails_clearly(faults, monkeypatch):
    from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.ibm.iks import IksClient, IksError
    monkeypatch.setattr("time.sleep", lambda unused: None)
    server = faults(["reset"], {("POST", "/identity/token"): (200, {"access_token": "a", "expires_in": 3600})})
    client = IksClient("key", endpoint=f"http://127.0.0.1:{server.port}", retries=3)
    assert client.token() == "a"
    assert [r[1] for r in server.requests] == ["/identity/token"] * 2
    port = closed_port()
    with pytest.raises(IksError, match=f"cannot reach the IBM Cloud API at http://127.0.0.1:{port}/identity/token"):
        IksClient("key", endpoint=f"http://127.0.0.1:{port}", retries=3).token()
