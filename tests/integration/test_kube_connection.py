"""Bad connections give a clear message that names the server or file and the cause, never a traceback."""

from __future__ import annotations

import socket
import subprocess

import pytest
import yaml

from conftest import run_module


def read_only(cluster, **auth):
    """A harmless read through a real module: plan removing edge marks, in check mode."""
    return run_module(cluster, "edge_nodes", {"state": "absent", **auth}, check_mode=True)


def write_kubeconfig(tmp_path, cluster, **cluster_overrides):
    config = yaml.safe_load(open(cluster.kubeconfig, encoding="utf-8"))
    config["clusters"][0]["cluster"].update(cluster_overrides)
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def assert_clear_failure(result, *fragments):
    assert result.get("failed"), result
    assert "Traceback" not in result["msg"]
    for fragment in fragments:
        assert fragment in result["msg"], result["msg"]


def test_a_working_connection_reads_the_nodes(iks_cluster):
    result = read_only(iks_cluster)
    assert not result.get("failed"), result
    assert result["api_calls"] == {"reads": 1, "writes": 0}


def test_missing_kubeconfig_names_the_file(iks_cluster, tmp_path):
    missing = str(tmp_path / "nope" / "kubeconfig")
    assert_clear_failure(read_only(iks_cluster, kubeconfig=missing), f"kubeconfig '{missing}' does not exist")


def test_unreadable_kubeconfig_says_so(iks_cluster, tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(": not yaml : [")
    assert_clear_failure(read_only(iks_cluster, kubeconfig=str(path)), f"kubeconfig '{path}' is not valid YAML")


def test_unknown_context_lists_the_available_ones(iks_cluster):
    assert_clear_failure(read_only(iks_cluster, context="prod-dal10"),
                         "context 'prod-dal10' is not in kubeconfig", f"available contexts: {iks_cluster.name}")


def test_closed_port_names_the_server_and_connection_refused(iks_cluster, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = f"https://127.0.0.1:{port}"
    kubeconfig = write_kubeconfig(tmp_path, iks_cluster, server=server)
    assert_clear_failure(read_only(iks_cluster, kubeconfig=kubeconfig),
                         f"cannot reach the Kubernetes API server at {server}", "connection refused")


def test_wrong_ca_is_reported_as_a_tls_verification_failure(iks_cluster, tmp_path):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other-ca",
                    "-keyout", str(tmp_path / "other.key"), "-out", str(tmp_path / "other.crt")],
                   check=True, capture_output=True)
    kubeconfig = write_kubeconfig(tmp_path, iks_cluster, **{"certificate-authority": str(tmp_path / "other.crt")})
    assert_clear_failure(read_only(iks_cluster, kubeconfig=kubeconfig),
                         f"cannot reach the Kubernetes API server at {iks_cluster.server}",
                         "TLS verification failed", "certificate verify failed")


def test_host_and_token_without_kubeconfig_are_rejected_by_the_real_server(iks_cluster):
    result = run_module(None, "edge_nodes", {"state": "absent", "host": iks_cluster.server, "api_key": "not-a-token",
                                             "validate_certs": False}, check_mode=True)
    assert_clear_failure(result, f"on {iks_cluster.server}: HTTP 401")
    assert "not-a-token" not in str(result)


@pytest.mark.parametrize("expected", ["https://other.example:6443", "c0000000000000000000"])
def test_expected_cluster_guard_refuses_another_cluster(iks_cluster, expected):
    result = run_module(iks_cluster, "edge_nodes", {"nodes": ["10.176.48.10", "10.176.49.11"],
                                                    "expected_cluster": expected})
    assert_clear_failure(result, "refusing to act", iks_cluster.server, expected)


def test_expected_cluster_guard_accepts_this_cluster_by_url(iks_cluster):
    result = read_only(iks_cluster, expected_cluster=iks_cluster.server)
    assert not result.get("failed"), result


def test_missing_certificate_files_and_token_file_are_named_not_a_traceback(iks_cluster, tmp_path):
    gone_ca = {"certificate-authority": str(tmp_path / "gone.crt"), "certificate-authority-data": None}
    missing_ca = write_kubeconfig(tmp_path, iks_cluster, **gone_ca)
    assert_clear_failure(read_only(iks_cluster, kubeconfig=missing_ca),
                         "TLS settings", "cannot be used", "No such file or directory")
    config = yaml.safe_load(open(iks_cluster.kubeconfig, encoding="utf-8"))
    user = config["users"][0]["user"]
    for key in ("client-certificate", "client-key", "client-certificate-data", "client-key-data", "token"):
        user.pop(key, None)
    user["tokenFile"] = str(tmp_path / "gone.token")
    path = tmp_path / "token-kubeconfig"
    path.write_text(yaml.safe_dump(config))
    assert_clear_failure(read_only(iks_cluster, kubeconfig=str(path)),
                         f"tokenFile '{tmp_path / 'gone.token'}' cannot be read", "No such file or directory")
