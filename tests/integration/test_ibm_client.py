"""IBM's own Python client (ibm-cloud-sdk-core, from PyPI) is the judge of the IBM Cloud API emulator: it gets
and refreshes IAM tokens from it, and the ALB routes answer with the shapes IBM's clients parse."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from conftest import REPO
from test_alb import alb_id

PEER = REPO / "tests" / "integration" / "ibm_peer.py"


@pytest.fixture(scope="module")
def ibm_python() -> str:
    python = os.environ.get("IBM_CLIENT_PYTHON") or str(REPO / ".build" / "ibm-venv" / "bin" / "python")
    if not os.path.exists(python):
        pytest.fail(f"IBM's client venv is missing ({python}): run `make ibm-venv` (tests/requirements-ibm.txt)")
    return python


def peer(python: str, cluster, scenario: str, *args: str, api_key: str | None = None) -> dict:
    env = cluster.env
    result = subprocess.run([python, str(PEER), env["IKS_API_URL"], api_key or env["IBMCLOUD_API_KEY"],
                             env["IKS_CLUSTER"], scenario, *args], capture_output=True, text=True, check=False,
                            timeout=180, env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "")})
    assert result.returncode == 0, f"IBM's client failed in {scenario}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return json.loads(result.stdout)


def test_iam_authenticator_reads_the_jwt_claims_and_verifies_the_signature(iks_cluster, emulator, ibm_python):
    seen = peer(ibm_python, iks_cluster, "token")
    claims = seen["claims"]
    assert claims["exp"] - claims["iat"] == seen["expires_in"] == 3600
    assert seen["expire_time"] == claims["exp"]
    # ibm-cloud-sdk-core refreshes at 80 % of the lifetime, computed from the claims.
    assert seen["refresh_time"] == pytest.approx(claims["exp"] - 0.2 * 3600)
    assert abs(claims["iat"] - time.time()) < 60
    assert claims["grant_type"] == "urn:ibm:params:oauth:grant-type:apikey" and claims["iss"].endswith("/identity")
    assert seen["token_type"] == "Bearer"


def test_an_expired_token_is_refused_and_the_authenticator_fetches_a_new_one(iks_cluster, emulator, ibm_python):
    # ibm-cloud-sdk-core treats a token as expired 10 s before its exp: 15 s leaves it a few usable seconds.
    emulator.control("config", {"token_lifetime": 15})
    seen = peer(ibm_python, iks_cluster, "refresh")
    assert (seen["before"], seen["stale_status"], seen["after"], seen["new_token"]) == (200, 401, 200, True)
    assert set(seen["stale_body"]) >= {"incidentID", "code", "description", "type"}
    calls = [(c["method"], c["path"].split("/")[1], c["status"]) for c in emulator.control("calls")]
    assert calls == [("POST", "identity", 200), ("GET", "v1", 200), ("GET", "v1", 401), ("POST", "identity", 200),
                     ("GET", "v1", 200)], calls


@pytest.mark.parametrize("shape, expected", [("object", "dict"), ("array", "list")])
def test_the_classic_alb_list_is_served_in_either_shape_ibm_clients_read(iks_cluster, emulator, ibm_python, shape,
                                                                         expected):
    emulator.control("config", {"v1_list_shape": shape})
    seen = peer(ibm_python, iks_cluster, "classic_list")
    assert (seen["status"], seen["shape"]) == (200, expected)
    assert seen["cluster_ids"] == [iks_cluster.env["IKS_CLUSTER_ID"]]
    by_id = {a["albID"]: a for a in seen["albs"]}
    assert set(by_id) == {alb_id(iks_cluster, "public"), alb_id(iks_cluster, "private")}
    public = by_id[alb_id(iks_cluster, "public")]
    assert (public["enable"], public["state"], public["status"], public["numOfInstances"]) == (
        True, "enabled", "healthy", "2")
    assert "vlanID" in public and "loadBalancerHostname" not in public


def test_the_vpc_alb_list_is_an_object_with_alb(iks_cluster, emulator, ibm_python):
    emulator.control("config", {"provider": "vpc-gen2"})
    seen = peer(ibm_python, iks_cluster, "vpc_list")
    assert (seen["status"], seen["shape"], seen["id"]) == (200, "dict", iks_cluster.env["IKS_CLUSTER_ID"])
    assert all("loadBalancerHostname" in a and "vlanID" not in a for a in seen["albs"])


def test_terraforms_classic_enable_and_disable_bodies_are_accepted(iks_cluster, emulator, ibm_python):
    private = alb_id(iks_cluster, "private")
    seen = peer(ibm_python, iks_cluster, "classic_toggle", private)
    assert (seen["enable"], seen["disable"]) == (204, 204)
    assert seen["up"][0]["state"] == "pending"
    # IBM documents an enabled private ALB with status "enabled", not "healthy".
    assert seen["up"][-1] == {"enable": True, "state": "enabled", "status": "enabled", "numOfInstances": "2"}
    assert seen["down"][-1]["state"] == "disabled"
    body = next(c["body"] for c in emulator.control("calls") if c["method"] == "POST" and c["path"] == "/v1/alb/albs")
    assert body["clusterID"] == "" and body["numOfInstances"] == "2" and body["resize"] is False


def test_terraforms_vpc_bodies_with_an_empty_cluster_are_accepted(iks_cluster, emulator, ibm_python):
    emulator.control("config", {"provider": "vpc-gen2"})
    seen = peer(ibm_python, iks_cluster, "vpc_toggle", alb_id(iks_cluster, "private"))
    assert (seen["enable"], seen["disable"]) == (204, 204)
    assert seen["up"][-1]["state"] == "enabled" and seen["down"][-1]["state"] == "disabled"
    bodies = [c["body"] for c in emulator.control("calls") if c["path"].startswith("/v2/alb/vpc/")]
    assert [b["cluster"] for b in bodies] == ["", ""]


def test_error_answers_carry_ikss_and_iams_fields(iks_cluster, emulator, ibm_python):
    seen = peer(ibm_python, iks_cluster, "errors")
    missing = seen["missing_cluster"]
    assert missing["status"] == 404
    assert set(missing["body"]) >= {"incidentID", "code", "description", "type"}
    assert "could not be found" in missing["body"]["description"]
    # IAM answers a wrong key with 400 and errorCode/errorMessage, which IBM's client reports as the message.
    assert seen["iam"]["status"] == 400 and seen["iam"]["body"]["errorCode"] == "BXNIM0415E"
    assert seen["iam"]["message"] == "Provided API key could not be found."
