"""iks: endpoints per region, the answer shapes IBM's clients document, honest retry counts, input checks.
Against a real local HTTP server that answers each request from a script."""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.ibm import alb
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.ibm import iks

ALB = {"albID": "private-cr1a2b-alb1", "albType": "private", "enable": True, "state": "enabled", "status": "enabled",
       "zone": "dal10", "numOfInstances": "2"}


class Script(BaseHTTPRequestHandler):
    def answer(self):
        self.server.seen.append((self.command, self.path))
        if self.path == "/identity/token":
            status, body = 200, {"access_token": "t", "expires_in": 3600}
        else:
            status, body = self.server.script.pop(0)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = answer

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Script)
    httpd.script, httpd.seen = [], []
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()


def client(server) -> iks.IksClient:
    return iks.IksClient("key", f"http://127.0.0.1:{server.server_address[1]}", backoff=0.01)


def test_the_private_endpoint_is_regional_like_bluemix_go():
    assert iks.endpoints("private", None, "eu-de") == ("https://private.eu-de.containers.cloud.ibm.com/global",
                                                       "https://private.iam.cloud.ibm.com")
    assert iks.endpoints("private", None, "us-south") == (
        "https://private.us-south.containers.cloud.ibm.com/global", "https://private.us-south.iam.cloud.ibm.com")
    assert iks.endpoints("public", None, "eu-de") == ("https://containers.cloud.ibm.com/global",
                                                      "https://iam.cloud.ibm.com")


@pytest.mark.parametrize("region", [None, "", "dal10", "US-SOUTH"])
def test_the_private_endpoint_without_a_region_is_refused(region):
    with pytest.raises(iks.IksError, match="needs the cluster's region"):
        iks.endpoints("private", None, region)


@pytest.mark.parametrize("answer", [
    {"id": "c1", "region": "us-south", "alb": [ALB]},          # bluemix-go containerv1 ClusterALB
    [{"id": "c1", "region": "us-south", "alb": [ALB]}],        # container-services-go-sdk []ClusterALB
])
def test_the_classic_list_is_read_as_object_or_array(server, answer):
    server.script.append((200, answer))
    assert iks.list_albs(client(server), "c1", "classic") == [ALB]


def test_the_vpc_list_is_read_from_its_alb_field(server):
    server.script.append((200, {"id": "c1", "alb": [ALB]}))
    assert iks.list_albs(client(server), "c1", "vpc") == [ALB]
    assert server.seen[-1] == ("GET", "/v2/alb/getClusterAlbs?cluster=c1")


def test_an_unexpected_list_shape_is_a_clear_error(server):
    server.script.append((200, ["private-cr1a2b-alb1"]))
    with pytest.raises(iks.IksError, match="unexpected shape"):
        iks.list_albs(client(server), "c1", "classic")


def test_a_one_shot_error_does_not_claim_retries(server):
    server.script.append((409, {"incidentID": "i1", "description": "busy"}))
    with pytest.raises(iks.IksError) as error:
        iks.set_alb(client(server), "c1", "classic", "private-cr1a2b-alb1", True)
    assert str(error.value) == ("POST /v1/alb/albs for ALB 'private-cr1a2b-alb1' of cluster 'c1' failed with "
                                "HTTP 409: busy (incident i1)")


def test_retried_errors_say_how_many_attempts_were_made(server):
    server.script.extend([(503, {"description": "down"})] * 5)
    with pytest.raises(iks.IksError, match="HTTP 503 after 5 attempts: down"):
        iks.list_albs(client(server), "c1", "classic")


def params(**extra) -> dict:
    return {"backend": "iks", "platform": "classic", "state": "enabled", "type": "private", **extra}


def test_replicas_are_refused_on_vpc_before_any_call():
    assert any("replicas 3 cannot be set on a VPC cluster" in e for e in alb.param_errors(params(platform="vpc", replicas=3)))
    assert alb.param_errors(params(platform="classic", replicas=3)) == []
    assert alb.param_errors(params(backend="kubernetes", platform="vpc", replicas=3, alb_selector="app")) == []


@pytest.mark.parametrize("reported, done", [
    ({"enabled": True, "state": "enabled", "status": "enabled", "instances": 2}, True),
    ({"enabled": True, "state": "enabled", "status": "warning", "instances": 2}, True),
    ({"enabled": True, "state": "pending", "status": "pending", "instances": 2}, False),
    ({"enabled": False, "state": "enabled", "status": "healthy", "instances": 2}, False),
])
def test_enabled_means_enable_and_state_enabled_whatever_the_status(reported, done):
    assert alb.reached(reported, True) is done


def test_a_requested_instance_count_is_part_of_done():
    reported = {"enabled": True, "state": "enabled", "status": "healthy", "instances": 2}
    assert alb.reached(reported, True, 2) and not alb.reached(reported, True, 3)


def test_one_tls_context_serves_every_request_of_a_client(server, monkeypatch):
    # Building a TLS context loads every system CA: one per client, not one per request (the token included).
    made = []
    real = iks.ssl.create_default_context
    monkeypatch.setattr(iks.ssl, "create_default_context", lambda *args, **kwargs: made.append(1) or real(*args, **kwargs))
    iks_client = client(server)
    server.script.extend([(200, {"id": "c1", "alb": [ALB]})] * 3)
    for unused_round in range(3):
        assert iks.list_albs(iks_client, "c1", "vpc") == [ALB]
    assert [path for unused_method, path in server.seen].count("/identity/token") == 1
    assert len(server.seen) == 4
    assert made == [1]


def test_requests_verify_the_server_against_the_system_authorities(server, tmp_path, monkeypatch):
    # Judged by OpenSSL: a server whose certificate no trusted authority signed is refused; trusting it the way
    # a system trusts an authority (SSL_CERT_FILE, read when the client builds its one context) lets it through.
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem")], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    url = f"https://127.0.0.1:{server.server_address[1]}"
    with pytest.raises(iks.IksUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
        iks.list_albs(iks.IksClient("key", url, backoff=0.01, retries=1), "c1", "vpc")
    assert server.seen == []
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
    server.script.append((200, {"id": "c1", "alb": [ALB]}))
    assert iks.list_albs(iks.IksClient("key", url, backoff=0.01), "c1", "vpc") == [ALB]
    assert [path for unused_method, path in server.seen][0] == "/identity/token" and len(server.seen) == 2
