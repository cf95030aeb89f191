# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes access shared by every module of the collection.

A client is made from a kubeconfig (path and context) or from a host and a bearer token, with the
``K8S_AUTH_*`` environment variables as fallbacks.  Requests are plain JSON over the official client's
REST layer: no discovery round-trips, one HTTP request per call, retries on transient failures, and
a count of reads and writes that tests and benchmarks check.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time

from ansible.module_utils.basic import env_fallback

try:
    import urllib3
    import yaml
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException

    IMPORT_ERROR = None
except ImportError as exc:  # reported by require_libraries()
    IMPORT_ERROR = exc

AUTH_ARG_SPEC = {
    "kubeconfig": {"type": "path", "fallback": (env_fallback, ["K8S_AUTH_KUBECONFIG"])},
    "context": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_CONTEXT"])},
    "host": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_HOST"])},
    "api_key": {"type": "str", "no_log": True, "fallback": (env_fallback, ["K8S_AUTH_API_KEY"])},
    "validate_certs": {"type": "bool", "aliases": ["verify_ssl"],
                       "fallback": (env_fallback, ["K8S_AUTH_VERIFY_SSL"])},
    "ca_cert": {"type": "path", "aliases": ["ssl_ca_cert"], "fallback": (env_fallback, ["K8S_AUTH_SSL_CA_CERT"])},
    "expected_cluster": {"type": "str"},
}

USER_AGENT = "containers_workload.secure_cluster"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}


class KubeError(Exception):
    """Anything that went wrong talking to Kubernetes, with a message a user can act on."""

    def __init__(self, message: str, status: int | None = None, reason: str | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason


def require_libraries() -> None:
    if IMPORT_ERROR is not None:
        raise KubeError(f"the Python libraries 'kubernetes' and 'PyYAML' are required on the host running "
                        f"this module ({IMPORT_ERROR}); install them with: pip install kubernetes pyyaml")


def _load_kubeconfig(path: str) -> dict:
    if not os.path.exists(path):
        raise KubeError(f"kubeconfig '{path}' does not exist; set 'kubeconfig' or K8S_AUTH_KUBECONFIG to the "
                        f"file that holds your cluster's credentials")
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise KubeError(f"kubeconfig '{path}' cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise KubeError(f"kubeconfig '{path}' is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise KubeError(f"kubeconfig '{path}' is not a kubeconfig file (expected a mapping)")
    return data


def _configuration_from_kubeconfig(path: str, context: str | None):
    data = _load_kubeconfig(path)
    contexts = [c.get("name") for c in data.get("contexts") or [] if isinstance(c, dict)]
    if context and context not in contexts:
        raise KubeError(f"context '{context}' is not in kubeconfig '{path}'; available contexts: "
                        f"{', '.join(map(str, contexts)) or 'none'}")
    if not context and not data.get("current-context"):
        raise KubeError(f"kubeconfig '{path}' has no current-context; set 'context' to one of: "
                        f"{', '.join(map(str, contexts)) or 'none'}")
    configuration = k8s_client.Configuration()
    try:
        loader = k8s_config.kube_config.KubeConfigLoader(
            config_dict=data, active_context=context,
            config_base_path=os.path.abspath(os.path.dirname(path)))
        loader.load_and_set(configuration)
    except (ConfigException, ValueError, TypeError, KeyError) as exc:
        raise KubeError(f"kubeconfig '{path}' (context '{context or data.get('current-context')}') "
                        f"cannot be used: {exc}") from None
    return configuration


def build_configuration(params: dict):
    """A kubernetes client Configuration from the module's auth options."""
    require_libraries()
    kubeconfig = params.get("kubeconfig")
    host = params.get("host")
    if kubeconfig or not host:
        path = kubeconfig or os.path.expanduser(os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0])
        if not kubeconfig and not os.path.exists(path) and os.environ.get("KUBERNETES_SERVICE_HOST"):
            configuration = k8s_client.Configuration()
            k8s_config.load_incluster_config(client_configuration=configuration)
        else:
            configuration = _configuration_from_kubeconfig(path, params.get("context"))
    else:
        configuration = k8s_client.Configuration()
    if host:
        configuration.host = host
    if params.get("api_key"):
        configuration.api_key = {"authorization": "Bearer " + params["api_key"]}
    if params.get("ca_cert"):
        if not os.path.exists(params["ca_cert"]):
            raise KubeError(f"ca_cert '{params['ca_cert']}' does not exist")
        configuration.ssl_ca_cert = params["ca_cert"]
    if params.get("validate_certs") is not None:
        configuration.verify_ssl = params["validate_certs"]
    configuration.retries = False
    return configuration


def _describe_connection_error(exc: Exception) -> str:
    """The root cause of a urllib3 failure, in words (connection refused, certificate verify failed, ...)."""
    reason = getattr(exc, "reason", None) or exc
    text = re.sub(r"\s*\(_ssl\.c:\d+\)", "", str(reason))
    for marker in ("certificate verify failed", "CERTIFICATE_VERIFY_FAILED", "wrong version number",
                   "Connection refused", "Name or service not known", "timed out", "No route to host"):
        if marker in text:
            detail = text[text.find(marker):].split(")", maxsplit=1)[0].rstrip("'\"")
            if "certificate" in marker.lower():
                return f"TLS verification failed ({detail}); check 'ca_cert' or the kubeconfig's certificate-authority"
            if marker == "wrong version number":
                return "TLS handshake failed (the port does not speak TLS)"
            return detail[0].lower() + detail[1:]
    return text


class Kube:
    """A Kubernetes API connection: JSON requests with retries, call counting and clear errors."""

    def __init__(self, configuration, retries: int = 5, backoff: float = 0.2, agent: str = USER_AGENT,
                 timeout: float = 30.0):
        self.configuration = configuration
        self.host = configuration.host
        self.api_client = k8s_client.ApiClient(configuration)
        self.api_client.user_agent = agent
        self.retries = retries
        self.backoff = backoff
        # A frozen or unreachable API server fails the request after this many seconds instead of hanging.
        self.timeout = timeout
        self.reads = 0
        self.writes = 0
        self._lock = threading.Lock()

    def request(self, method: str, path: str, body=None, query: dict | None = None,
                patch_type: str | None = None, retry_conflict: bool = True):
        """Send one request; returns the decoded JSON body.

        Retries 429 (honouring Retry-After), 5xx and 409 Conflict with bounded exponential backoff. A request
        guarded by a resourceVersion conflicts again when resent, so its caller passes retry_conflict=False
        and re-reads instead.
        """
        headers = {"Accept": "application/json", "Content-Type": PATCH_TYPES.get(patch_type, "application/json")}
        query_params = [(k, v) for k, v in (query or {}).items() if v is not None]
        for attempt in range(self.retries):
            with self._lock:
                if method in WRITE_METHODS:
                    self.writes += 1
                else:
                    self.reads += 1
            try:
                data = self._send(method, path, query_params, headers, body)
                return json.loads(data) if data else {}
            except ApiException as exc:
                if not exc.status:  # the client wraps TLS failures as status 0
                    raise KubeError(f"cannot reach the Kubernetes API server at {self.host}: "
                                    f"{_describe_connection_error(exc)}") from None
                status, reason, message = self._api_error(exc)
                retryable = status in RETRY_STATUS or (retry_conflict and status == 409 and reason == "Conflict")
                if not retryable or attempt == self.retries - 1:
                    raise KubeError(f"{method} {path} on {self.host}: HTTP {status} {reason}: {message}",
                                    status=status, reason=reason) from None
                time.sleep(self._delay(attempt, exc))
            except urllib3.exceptions.HTTPError as exc:
                raise KubeError(f"cannot reach the Kubernetes API server at {self.host}: "
                                f"{_describe_connection_error(exc)}") from None
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, query_params: list, headers: dict, body) -> bytes:
        """One HTTP exchange through the official client, whichever generation of it is installed."""
        api = self.api_client
        if hasattr(api, "param_serialize"):  # kubernetes >= 35 (openapi-generator 7)
            method, url, headers, body, post = api.param_serialize(
                method=method, resource_path=path, query_params=query_params, header_params=headers,
                body=body, auth_settings=["BearerToken"])
            response = api.call_api(method, url, header_params=headers, body=body, post_params=post,
                                    _request_timeout=self.timeout)
            response.read()
            if not 200 <= response.status <= 299:
                raise ApiException(http_resp=response)
            return response.data
        response = api.call_api(path, method, query_params=query_params, header_params=headers, body=body,
                                auth_settings=["BearerToken"], _preload_content=False,
                                _return_http_data_only=True, _request_timeout=self.timeout)
        return response.data

    @staticmethod
    def _api_error(exc) -> tuple[int, str, str]:
        try:
            body = json.loads(exc.body or "{}")
        except ValueError:
            body = {}
        return exc.status, body.get("reason") or exc.reason or "", body.get("message") or (exc.body or "").strip()

    def _delay(self, attempt: int, exc) -> float:
        retry_after = (exc.headers or {}).get("Retry-After") if hasattr(exc, "headers") else None
        if retry_after and str(retry_after).isdigit():
            return min(float(retry_after), 10.0)
        return self.backoff * (2 ** attempt)

    def get(self, path: str, query: dict | None = None):
        return self.request("GET", path, query=query)

    def get_or_none(self, path: str, query: dict | None = None):
        """GET an object, or None when it (or its resource type) does not exist."""
        try:
            return self.get(path, query=query)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def patch(self, path: str, body, patch_type: str = "merge", query: dict | None = None,
              retry_conflict: bool = True):
        return self.request("PATCH", path, body=body, patch_type=patch_type, query=query,
                            retry_conflict=retry_conflict)

    def cluster_matches(self, expected: str) -> bool:
        """Is this the cluster the inventory names: its API server URL, kube-system UID or IKS cluster ID?"""
        if expected.rstrip("/") == self.host.rstrip("/"):
            return True
        namespace = self.get("/api/v1/namespaces/kube-system")
        if expected == namespace["metadata"].get("uid"):
            return True
        info = self.get_or_none("/api/v1/namespaces/kube-system/configmaps/cluster-info")
        config = json.loads((info or {}).get("data", {}).get("cluster-config.json", "{}") or "{}")
        return expected == config.get("cluster_id")


def connect(params: dict, agent: str = USER_AGENT) -> Kube:
    """A Kube connection from module params; checks ``expected_cluster`` when it is set."""
    kube = Kube(build_configuration(params), agent=agent)
    expected = params.get("expected_cluster")
    if expected and not kube.cluster_matches(expected):
        raise KubeError(f"refusing to act: the API server {kube.host} is not the expected cluster "
                        f"'{expected}' (expected_cluster compares the API server URL, the kube-system "
                        f"namespace UID and the IKS cluster ID)")
    return kube


# --- applying whole objects ------------------------------------------------------------------

RESOURCES = {
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "Service"): ("services", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("apps/v1", "DaemonSet"): ("daemonsets", True),
    ("rbac.authorization.k8s.io/v1", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("rolebindings", True),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("networkpolicies", True),
    ("networking.k8s.io/v1", "Ingress"): ("ingresses", True),
    ("crd.projectcalico.org/v1", "KubeControllersConfiguration"): ("kubecontrollersconfigurations", False),
}


def object_path(obj: dict, named: bool = True) -> str:
    """REST path of an object (or of its collection with named=False)."""
    api_version, kind = obj["apiVersion"], obj["kind"]
    if (api_version, kind) not in RESOURCES:
        raise KubeError(f"{kind} ({api_version}) is not a kind this collection manages")
    plural, namespaced = RESOURCES[(api_version, kind)]
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    scope = f"/namespaces/{obj['metadata']['namespace']}" if namespaced else ""
    name = f"/{obj['metadata']['name']}" if named else ""
    return f"{prefix}{scope}/{plural}{name}"


def contains(live, desired) -> bool:
    """Whether the live object already has every field the desired one sets (the API server adds defaults)."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(contains(live.get(k), v) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and len(live) == len(desired) and all(
            contains(a, b) for a, b in zip(live, desired))
    return live == desired


def managed_view(live: dict | None, desired: dict):
    """The fields of ``live`` that ``desired`` sets: what a diff should show as 'before'."""
    if live is None:
        return None
    if isinstance(desired, dict):
        return {k: managed_view(live.get(k), v) if isinstance(live, dict) else None
                for k, v in desired.items() if isinstance(live, dict) and k in live}
    if isinstance(desired, list) and isinstance(live, list) and len(live) == len(desired):
        return [managed_view(a, b) for a, b in zip(live, desired)]
    return live


def apply_object(kube: Kube, obj: dict, check_mode: bool, field_manager: str) -> dict:
    """Make one object look like ``obj``: GET it, and only when it differs, server-side apply it.

    Returns {changed, before, after} with before/after limited to the fields ``obj`` sets.
    """
    live = kube.get_or_none(object_path(obj))
    if live is not None and contains(live, obj):
        return {"changed": False, "before": managed_view(live, obj), "after": managed_view(live, obj)}
    if not check_mode:
        kube.patch(object_path(obj), obj, patch_type="apply",
                   query={"fieldManager": field_manager, "force": "true"})
    return {"changed": True, "before": managed_view(live, obj), "after": obj}


def delete_objects(kube: Kube, objects: list[dict], check_mode: bool, timeout: float = 120.0,
                   interval: float = 1.0) -> list[dict]:
    """Delete the objects that exist (foreground) and wait until they are gone; returns those deleted."""
    present = [obj for obj in objects if kube.get_or_none(object_path(obj)) is not None]
    if check_mode:
        return present
    for obj in present:
        try:
            kube.request("DELETE", object_path(obj), body={"propagationPolicy": "Foreground"})
        except KubeError as exc:
            if exc.status != 404:
                raise
    deadline = time.monotonic() + timeout
    waiting = list(present)
    while waiting:
        waiting = [obj for obj in waiting if kube.get_or_none(object_path(obj)) is not None]
        if waiting and time.monotonic() > deadline:
            raise KubeError("timed out after %ds waiting for deletion of %s" % (
                timeout, ", ".join(f"{o['kind']} {o['metadata']['name']}" for o in waiting)))
        if waiting:
            time.sleep(interval)
    return present


def shares_with_others(live: dict, field_manager: str) -> bool:
    """Whether another manager set fields of the object's content (status and finalizers do not count: a
    controller adds those to objects it did not make)."""
    for entry in live["metadata"].get("managedFields") or []:
        if entry.get("manager") == field_manager or entry.get("subresource") == "status":
            continue
        fields = dict(entry.get("fieldsV1") or {})
        fields.pop("f:status", None)
        metadata = {k: v for k, v in (fields.pop("f:metadata", None) or {}).items() if k != "f:finalizers"}
        if fields or metadata:
            return True
    return False


def release_objects(kube: Kube, objects: list[dict], check_mode: bool, field_manager: str,
                    timeout: float = 120.0) -> tuple[list[dict], list[dict]]:
    """Take back what ``field_manager`` made: objects only it set are deleted; on objects others set too, it
    gives up its fields (a server-side apply of nothing but the name), so theirs stay as they were.

    Returns (deleted, released)."""
    mine, shared = [], []
    for obj in objects:
        live = kube.get_or_none(object_path(obj))
        if live is None or not any(e.get("manager") == field_manager
                                   for e in live["metadata"].get("managedFields") or []):
            continue
        (shared if shares_with_others(live, field_manager) else mine).append(obj)
    if not check_mode:
        for obj in shared:
            meta = {k: v for k, v in obj["metadata"].items() if k in ("name", "namespace")}
            kube.patch(object_path(obj), {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": meta},
                       patch_type="apply", query={"fieldManager": field_manager, "force": "true"})
    return delete_objects(kube, list(reversed(mine)), check_mode, timeout), shared


def mask_secrets(obj):
    """A copy of an object (or a diff side) with the values of a Secret's data replaced."""
    if isinstance(obj, dict) and obj.get("kind") == "Secret":
        return {k: ({dk: "********" for dk in v} if k in ("data", "stringData") and isinstance(v, dict) else v)
                for k, v in obj.items()}
    return obj


def describe_object(obj: dict, changed: bool) -> dict:
    return {"kind": obj["kind"], "namespace": obj["metadata"].get("namespace", ""), "name": obj["metadata"]["name"],
            "changed": changed}


def ensure_objects(kube: Kube, objects: list[dict], state: str, check_mode: bool, field_manager: str = "secure_cluster",
                   wait_timeout: float = 120.0, mask=mask_secrets) -> dict:
    """Apply (state present) or delete and wait (state absent) many objects; the module result with a diff.

    Deletion goes in reverse order, so a namespace listed first is deleted last. State released: see
    release_objects.
    """
    if state == "released":
        gone, released = release_objects(kube, objects, check_mode, field_manager, wait_timeout)
        return {"changed": bool(gone or released),
                "objects": [describe_object(o, True) for o in gone + released],
                "diff": {"before": {f"{o['kind']}/{o['metadata']['name']}": "present" for o in gone + released},
                         "after": {**{f"{o['kind']}/{o['metadata']['name']}": "absent" for o in gone},
                                   **{f"{o['kind']}/{o['metadata']['name']}": f"without the fields of {field_manager}"
                                      for o in released}}},
                "api_calls": {"reads": kube.reads, "writes": kube.writes}}
    if state == "absent":
        gone = delete_objects(kube, list(reversed(objects)), check_mode, wait_timeout)
        return {"changed": bool(gone), "objects": [describe_object(o, True) for o in gone],
                "diff": {"before": {f"{o['kind']}/{o['metadata']['name']}": "present" for o in gone},
                         "after": {f"{o['kind']}/{o['metadata']['name']}": "absent" for o in gone}},
                "api_calls": {"reads": kube.reads, "writes": kube.writes}}
    results = [(obj, apply_object(kube, obj, check_mode, field_manager)) for obj in objects]
    changed = [(obj, r) for obj, r in results if r["changed"]]
    return {"changed": bool(changed), "objects": [describe_object(obj, r["changed"]) for obj, r in results],
            "diff": {"before": {f"{o['kind']}/{o['metadata']['name']}": mask(r["before"]) for o, r in changed},
                     "after": {f"{o['kind']}/{o['metadata']['name']}": mask(r["after"]) for o, r in changed}},
            "api_calls": {"reads": kube.reads, "writes": kube.writes}}
