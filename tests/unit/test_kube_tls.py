"""Server certificates are verified as kubectl verifies them (Go's crypto/x509), on every supported Python.

Go accepts an issuer that is a CA (basic constraints CA:TRUE) and, when it has a key usage extension, allows
certificate signing; a CA without key usage is accepted. Python 3.13's default TLS context adds OpenSSL's strict
mode, which refuses such a CA. These tests run a real TLS server with certificates made by openssl, one CA of each
kind, and connect with the collection's Kubernetes client.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import (
    Kube, KubeError, build_configuration)

# What kubeadm's CA has (client-go certutil.NewSelfSignedCACert), what many hand-made CAs have (no key usage),
# and a CA whose key usage leaves out certificate signing, which Go refuses too.
CA_EXTENSIONS = {
    "kubeadm": "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature,keyEncipherment,keyCertSign\n",
    "no-key-usage": "basicConstraints=critical,CA:TRUE\n",
    "no-cert-sign": "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature,keyEncipherment\n",
}
LEAF = ("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,"
        "keyEncipherment\nauthorityKeyIdentifier=keyid\n")


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca_and_server_cert(workdir: Path, kind: str) -> Path:
    workdir.mkdir()
    (workdir / "ca.cnf").write_text("[req]\ndistinguished_name = dn\nx509_extensions = ca\n[dn]\n[ca]\n"
                                    "subjectKeyIdentifier = hash\n" + CA_EXTENSIONS[kind])
    (workdir / "leaf.cnf").write_text(LEAF)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", "ca.key", "-out", "ca.crt",
            "-subj", f"/CN=test-ca-{kind}", "-config", "ca.cnf", cwd=workdir)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=kube-apiserver", cwd=workdir)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
            "-out", "server.crt", "-extfile", "leaf.cnf", cwd=workdir)
    return workdir


class Version(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server naming)
        payload = json.dumps({"major": "1", "minor": "34"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture(params=sorted(CA_EXTENSIONS))
def tls_server(request, tmp_path):
    pki = make_ca_and_server_cert(tmp_path / request.param, request.param)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Version)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / "server.crt", pki / "server.key")
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield request.param, f"https://127.0.0.1:{httpd.server_address[1]}", pki / "ca.crt"
    httpd.shutdown()
    httpd.server_close()


def collection_get(url: str, ca_file: Path):
    kube = Kube(build_configuration({"host": url, "api_key": "token", "ca_cert": str(ca_file)}), retries=1,
                timeout=10)
    return kube.get("/version")


def test_a_ca_is_accepted_or_refused_as_kubectl_would(tls_server):
    kind, url, ca_file = tls_server
    if kind == "no-cert-sign":
        with pytest.raises(KubeError, match=r"TLS verification failed \(certificate verify failed: .*\); check "
                                            r"'ca_cert'"):
            collection_get(url, ca_file)
    else:
        assert collection_get(url, ca_file) == {"major": "1", "minor": "34"}


def test_python_strict_mode_is_what_the_collection_turns_off(tls_server):
    """Python's own default context: strict on 3.13 and later, so it refuses the CA without key usage there; the
    kubeadm CA passes even strict checks (so does the test harness's, which has the same extensions)."""
    kind, url, ca_file = tls_server
    context = ssl.create_default_context(cafile=str(ca_file))
    strict = bool(context.verify_flags & ssl.VERIFY_X509_STRICT)
    assert strict == (sys.version_info >= (3, 13))
    host, port = url.removeprefix("https://").split(":")
    refused = kind == "no-cert-sign" or (kind == "no-key-usage" and strict)
    try:
        with context.wrap_socket(socket.create_connection((host, int(port)), timeout=10),
                                 server_hostname=host):
            accepted = True
    except ssl.SSLCertVerificationError as exc:
        accepted = False
        if kind == "no-key-usage":
            assert "CA cert does not include key usage extension" in str(exc)
    assert accepted is not refused


def test_the_test_harness_ca_passes_strict_checks(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cluster"))
    try:
        import harness  # pylint: disable=import-outside-toplevel
    finally:
        sys.path.pop(0)
    harness.make_pki(tmp_path)
    result = subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile", "ca.crt", "apiserver.crt", "admin.crt"],
                            cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    text = subprocess.run(["openssl", "x509", "-in", "ca.crt", "-noout", "-ext", "basicConstraints,keyUsage"],
                          cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert "CA:TRUE" in text and "Digital Signature, Key Encipherment, Certificate Sign" in text
