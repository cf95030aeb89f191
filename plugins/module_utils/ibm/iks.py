# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IBM Cloud IAM tokens and the IBM Cloud Kubernetes Service ALB API (classic v1, VPC v2).

Hand-written on Ansible's own HTTP client rather than on ibm-cloud-sdk-core: that package requires
python-dateutil < 3 while the kubernetes client this collection needs requires python-dateutil >= 3, so the
two cannot be installed together. IBM's client is instead the judge of our emulator in the tests
(tests/integration/test_ibm_client.py), and the shapes below follow IBM's clients (see docs/private_exposure.md).
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
import time
import urllib.parse
import urllib.request
from urllib.error import HTTPError, URLError

from ansible.module_utils.basic import env_fallback

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import journal
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.errors import SecureClusterError

PUBLIC_ENDPOINTS = ("https://containers.cloud.ibm.com/global", "https://iam.cloud.ibm.com")
# IBM's private service endpoints are per region (bluemix-go endpoints: private.<region>.containers...);
# IAM has regional private endpoints in these regions only, and a global one for the rest.
PRIVATE_IAM_REGIONS = frozenset({"us-south", "us-east"})
REGION = re.compile(r"^[a-z]{2}-[a-z]+$")
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 30.0
# Refresh a token this long before it expires, so a request never carries one that lapses on the way.
TOKEN_MARGIN = 120
USER_AGENT = "containers_workload.secure_cluster"

IKS_ARG_SPEC = {
    "ibmcloud_api_key": {"type": "str", "no_log": True,
                         "fallback": (env_fallback, ["IC_API_KEY", "IBMCLOUD_API_KEY"])},
    "cluster": {"type": "str", "fallback": (env_fallback, ["IKS_CLUSTER"])},
    "region": {"type": "str", "fallback": (env_fallback, ["IC_REGION", "IBMCLOUD_REGION"])},
    "resource_group": {"type": "str", "fallback": (env_fallback, ["IC_RESOURCE_GROUP", "IBMCLOUD_RESOURCE_GROUP"])},
    "iks_endpoint": {"type": "str", "default": "public", "fallback": (env_fallback, ["IKS_API_URL"])},
    "iam_endpoint": {"type": "str"},
    "platform": {"type": "str", "choices": ["classic", "vpc"], "default": "classic"},
}


class IksError(SecureClusterError):
    """A failed IBM Cloud call, with a message that names the cluster or ALB and the cause."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class IksUnreachable(IksError):
    """The IBM Cloud API could not be reached, or the connection broke before its answer was read."""


def endpoints(endpoint: str, iam_endpoint: str | None, region: str | None = None) -> tuple[str, str]:
    """(IKS API base URL, IAM base URL) for 'public', 'private' (needs the region) or a URL (a test URL serves
    both)."""
    if endpoint == "public":
        api, iam = PUBLIC_ENDPOINTS
    elif endpoint == "private":
        if not region or not REGION.match(region):
            raise IksError(f"iks_endpoint 'private' needs the cluster's region (such as 'us-south') to build "
                           f"https://private.<region>.containers.cloud.ibm.com; got region {region!r}: set "
                           f"'region' or IC_REGION / IBMCLOUD_REGION")
        api = f"https://private.{region}.containers.cloud.ibm.com/global"
        iam = f"https://private.{region}.iam.cloud.ibm.com" if region in PRIVATE_IAM_REGIONS \
            else "https://private.iam.cloud.ibm.com"
    elif endpoint.startswith(("https://", "http://")):
        api, iam = endpoint.rstrip("/"), endpoint.rstrip("/")
    else:
        raise IksError(f"endpoint '{endpoint}' is not 'public', 'private' or an http(s) URL")
    return api, (iam_endpoint or iam).rstrip("/")


class IksClient:
    """IKS API calls with an IAM token that is fetched, refreshed and never shown."""

    def __init__(self, api_key: str, endpoint: str = "public", iam_endpoint: str | None = None,
                 region: str | None = None, resource_group: str | None = None, retries: int = 5,
                 backoff: float = 1.0, timeout: float = 30.0):
        if not api_key:
            raise IksError("an IBM Cloud API key is required: set 'ibmcloud_api_key' or IC_API_KEY / IBMCLOUD_API_KEY")
        self.api_url, self.iam_url = endpoints(endpoint, iam_endpoint, region)
        self._api_key = api_key
        self.region, self.resource_group = region, resource_group
        self.retries, self.backoff, self.timeout = retries, backoff, timeout
        self._token: str | None = None
        self._token_expires = 0.0
        self.reads = 0
        self.writes = 0
        # One TLS context (the system's certificate authorities, verified) for every request of this client:
        # building one loads every system CA, which cost more controller CPU per request than the request.
        # The proxy settings of the environment (https_proxy, no_proxy) apply, as urllib reads them.
        self._opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ssl.create_default_context()))

    def _http(self, method: str, url: str, data: bytes | None, headers: dict) -> tuple[int, dict, bytes]:
        request = urllib.request.Request(url, data=data, headers={"User-Agent": USER_AGENT, **headers}, method=method)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return response.getcode(), dict(response.headers), response.read()
        except HTTPError as exc:
            return exc.code, dict(exc.headers or {}), exc.read() or b""
        except URLError as exc:
            raise IksUnreachable(f"cannot reach the IBM Cloud API at {url.split('?')[0]}: {exc.reason}") from None
        except (OSError, http.client.HTTPException) as exc:  # reset or cut short while reading the answer
            raise IksUnreachable(f"the connection to the IBM Cloud API at {url.split('?')[0]} broke: "
                                 f"{exc.__class__.__name__} {exc}".rstrip()) from None

    def token(self, force: bool = False) -> str:
        """A valid IAM access token, fetched again when it is about to expire (or when forced)."""
        if force or not self._token or time.time() > self._token_expires - TOKEN_MARGIN:
            body = urllib.parse.urlencode({"grant_type": "urn:ibm:params:oauth:grant-type:apikey",
                                           "apikey": self._api_key}).encode()
            status, unused_headers, raw, unused_attempts = self._retrying("POST", f"{self.iam_url}/identity/token", body, {
                "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}, counted=False)
            data = _json(raw)
            if status != 200 or "access_token" not in data:
                raise IksError(f"IBM Cloud IAM refused the API key (HTTP {status}): "
                               f"{data.get('errorMessage') or data.get('message') or 'no detail'}", status)
            self._token = data["access_token"]
            self._token_expires = time.time() + float(data.get("expires_in") or 3600)
        return self._token

    def _retrying(self, method: str, url: str, data, headers: dict,
                  counted: bool = True) -> tuple[int, dict, bytes, int]:
        """Send with retries on 429/5xx: (status, headers, body, attempts made). Counts reads and writes of the
        IKS API (token requests are neither)."""
        for attempt in range(self.retries):
            if counted and method == "GET":
                self.reads += 1
            elif counted:
                self.writes += 1
            try:
                status, response_headers, raw = self._http(method, url, data, headers)
            except IksUnreachable:
                # Every call this client makes is safe to send again: reads, a token (stores nothing), and an
                # ALB enable or disable, which sets a state rather than adding one.
                if attempt == self.retries - 1:
                    raise
                time.sleep(min(self.backoff * 2 ** attempt, MAX_RETRY_AFTER))
                continue
            if status not in RETRY_STATUS or attempt == self.retries - 1:
                return status, response_headers, raw, attempt + 1
            retry_after = response_headers.get("Retry-After") or response_headers.get("retry-after")
            delay = float(retry_after) if retry_after and str(retry_after).isdigit() else self.backoff * 2 ** attempt
            time.sleep(min(delay, MAX_RETRY_AFTER))
        raise AssertionError("unreachable")

    def request(self, method: str, path: str, body: dict | None = None, what: str = ""):
        """Call the IKS API; returns decoded JSON (None for empty bodies). ``what`` names the object for errors."""
        url = f"{self.api_url}{path}"
        data = json.dumps(body).encode() if body is not None else None
        for refreshed in (False, True):
            headers = {"Authorization": f"Bearer {self.token(force=refreshed)}", "Accept": "application/json",
                       "Content-Type": "application/json"}
            if self.region:
                headers["X-Region"] = self.region
            if self.resource_group:
                headers["X-Auth-Resource-Group"] = self.resource_group
            status, unused_headers, raw, attempts = self._retrying(method, url, data, headers)
            if status != 401 or refreshed:
                break
        if method == "GET" and (200 <= status < 300 or status in (403, 404)):
            journal.read("iks", method, path, {"api": self.api_url}, status,
                         _json(raw) if 200 <= status < 300 and raw else None)
        if 200 <= status < 300:
            return _json(raw) if raw else None
        detail = _json(raw)
        description = detail.get("description") or detail.get("message") or raw.decode(errors="replace")[:200]
        incident = f" (incident {detail['incidentID']})" if detail.get("incidentID") else ""
        if status == 401:
            raise IksError(f"IBM Cloud rejected the token for {what} (HTTP 401): {description}{incident}", status)
        if status == 403:
            raise IksError(f"not authorized for {what} (HTTP 403): {description}{incident}; the API key needs the "
                           f"Operator or Administrator platform role on the cluster", status)
        if status == 404:
            raise IksError(f"{what} was not found (HTTP 404): {description}{incident}", status)
        tried = f" after {attempts} attempts" if attempts > 1 else ""
        raise IksError(f"{method} {path.split('?')[0]} for {what} failed with HTTP {status}{tried}: "
                       f"{description}{incident}", status)


def client_of(params: dict) -> IksClient:
    """The client a module's IKS options (IKS_ARG_SPEC) describe."""
    return IksClient(params["ibmcloud_api_key"], params["iks_endpoint"], params.get("iam_endpoint"),
                     params.get("region"), params.get("resource_group"))


def _json(raw: bytes) -> dict:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, (dict, list)) else {}


def list_albs(client: IksClient, cluster: str, platform: str) -> list[dict]:
    """The cluster's ALBs as IBM returns them.

    ``GET /v1/alb/clusters/{idOrName}`` is read by bluemix-go as one cluster object with ``alb`` and by
    container-services-go-sdk as an array of such objects: both are accepted. ``GET /v2/alb/getClusterAlbs``
    answers one object with ``alb`` in both IBM clients.
    """
    what = f"cluster '{cluster}'"
    if platform == "vpc":
        result = client.request("GET", f"/v2/alb/getClusterAlbs?cluster={urllib.parse.quote(cluster)}", what=what)
    else:
        result = client.request("GET", f"/v1/alb/clusters/{urllib.parse.quote(cluster)}", what=what)
    clusters = result if isinstance(result, list) else [result]
    albs = []
    for item in clusters:
        if not isinstance(item, dict) or not isinstance(item.get("alb") or [], list):
            raise IksError(f"IBM Cloud answered the ALB list of {what} with an unexpected shape "
                           f"({type(item).__name__}): expected an object with an 'alb' list")
        albs.extend(a for a in item.get("alb") or [] if isinstance(a, dict) and a.get("albID"))
    return albs


def set_alb(client: IksClient, cluster: str, platform: str, alb_id: str, enable: bool,
            instances: int | None = None, resize: bool = False) -> None:
    """Enable or disable one ALB, or (classic, ``resize``) change an enabled ALB's number of instances.
    Asynchronous on IBM's side: poll list_albs for the result.

    Bodies as IBM's clients send them: classic ``POST /v1/alb/albs`` with a v1 ALBConfig (``albID``,
    ``enable: true``, ``numOfInstances`` as a string, ``resize: true`` to resize), ``DELETE /v1/alb/albs/{albID}``
    to disable; VPC ``POST /v2/alb/vpc/enableAlb|disableAlb`` with ``albID``, ``cluster`` and ``enable``.
    """
    what = f"ALB '{alb_id}' of cluster '{cluster}'"
    if platform == "vpc":
        if instances:
            raise IksError(f"cannot set the number of instances of {what}: the IKS v2 (VPC) ALB API has no resize")
        action = "enableAlb" if enable else "disableAlb"
        client.request("POST", f"/v2/alb/vpc/{action}", {"albID": alb_id, "cluster": cluster, "enable": enable},
                       what=what)
    elif enable:
        body: dict = {"albID": alb_id, "enable": True}
        if instances:
            body["numOfInstances"] = str(instances)
        if resize:
            body["resize"] = True
        client.request("POST", "/v1/alb/albs", body, what=what)
    else:
        client.request("DELETE", f"/v1/alb/albs/{urllib.parse.quote(alb_id)}", what=what)
