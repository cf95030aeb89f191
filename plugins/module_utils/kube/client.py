# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes access shared by every module of the collection.

A connection is made from a kubeconfig (path and context), from a host and a bearer token, or in-cluster, with
the ``K8S_AUTH_*`` environment variables as fallbacks. Requests are plain JSON over urllib3: no discovery
round-trips, one HTTP request per call, retries on transient failures, and a count of reads and writes that tests
and benchmarks check. The official ``kubernetes`` client is imported only for kubeconfig users that authenticate
through an ``exec`` or ``auth-provider`` plugin: loading its generated models costs a third of a second per
module run, which a fleet of clusters pays dozens of times.
"""

from __future__ import annotations

import base64
import json
import os
import re
import ssl
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass

from ansible.module_utils.basic import env_fallback

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import journal
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.errors import SecureClusterError

try:
    import urllib3
    import yaml

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
IN_CLUSTER = "/var/run/secrets/kubernetes.io/serviceaccount"
# POSTs that store nothing: the API server answers from its authorizer or authenticator, so a resend is harmless.
REVIEWS = ("selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews", "subjectaccessreviews",
           "localsubjectaccessreviews", "tokenreviews")
# Connection failures are retried after 0.2, 0.4, 0.8, 1.6 s (with the default backoff), at most this long each.
MAX_CONNECTION_BACKOFF = 5.0


class KubeError(SecureClusterError):
    """Anything that went wrong talking to Kubernetes, with a message a user can act on."""

    def __init__(self, message: str, status: int | None = None, reason: str | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason


def require_libraries() -> None:
    if IMPORT_ERROR is not None:
        raise KubeError(f"the Python libraries 'urllib3' and 'PyYAML' are required on the host running "
                        f"this module ({IMPORT_ERROR}); install them with: pip install kubernetes pyyaml")


@dataclass
class Endpoint:
    """Where the API server is and how to talk to it."""

    host: str
    token: str | None = None
    verify: bool = True
    ca_file: str | None = None
    ca_data: bytes | None = None
    cert_file: str | None = None
    key_file: str | None = None
    cert_data: bytes | None = None
    key_data: bytes | None = None


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


def _named(data: dict, section: str, name: str, path: str) -> dict:
    for entry in data.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry.get(section[:-1]) or {}
    raise KubeError(f"kubeconfig '{path}' has no {section[:-1]} '{name}'")


def _decode(value: str, what: str, path: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise KubeError(f"kubeconfig '{path}': {what} is not valid base64") from None


def _endpoint_from_kubeconfig(path: str, context: str | None) -> Endpoint:
    data = _load_kubeconfig(path)
    contexts = [c.get("name") for c in data.get("contexts") or [] if isinstance(c, dict)]
    if context and context not in contexts:
        raise KubeError(f"context '{context}' is not in kubeconfig '{path}'; available contexts: "
                        f"{', '.join(map(str, contexts)) or 'none'}")
    if not context and not data.get("current-context"):
        raise KubeError(f"kubeconfig '{path}' has no current-context; set 'context' to one of: "
                        f"{', '.join(map(str, contexts)) or 'none'}")
    name = context or data["current-context"]
    ctx = _named(data, "contexts", name, path)
    cluster = _named(data, "clusters", ctx.get("cluster"), path)
    user = _named(data, "users", ctx.get("user"), path) if ctx.get("user") else {}
    if user.get("exec") or user.get("auth-provider"):
        return _endpoint_from_kubernetes_client(data, name, path)
    base = os.path.abspath(os.path.dirname(path))

    def file_of(key: str) -> str | None:
        value = cluster.get(key) if key == "certificate-authority" else user.get(key)
        return os.path.join(base, value) if value else None

    if not cluster.get("server"):
        raise KubeError(f"kubeconfig '{path}' (context '{name}'): the cluster has no server")
    token = user.get("token")
    if not token and user.get("tokenFile"):
        try:
            with open(os.path.join(base, user["tokenFile"]), encoding="utf-8") as handle:
                token = handle.read().strip()
        except OSError as exc:
            raise KubeError(f"kubeconfig '{path}' (context '{name}'): tokenFile '{user['tokenFile']}' cannot be "
                            f"read: {exc.strerror}") from None
    return Endpoint(
        host=cluster["server"], token=token, verify=not cluster.get("insecure-skip-tls-verify", False),
        ca_file=file_of("certificate-authority"),
        ca_data=_decode(cluster["certificate-authority-data"], "certificate-authority-data", path)
        if cluster.get("certificate-authority-data") else None,
        cert_file=file_of("client-certificate"), key_file=file_of("client-key"),
        cert_data=_decode(user["client-certificate-data"], "client-certificate-data", path)
        if user.get("client-certificate-data") else None,
        key_data=_decode(user["client-key-data"], "client-key-data", path) if user.get("client-key-data") else None)


def _endpoint_from_kubernetes_client(data: dict, context: str, path: str) -> Endpoint:
    """exec and auth-provider credentials: the official client runs the plugin."""
    try:
        from kubernetes import client as k8s_client  # pylint: disable=import-outside-toplevel
        from kubernetes.config import kube_config  # pylint: disable=import-outside-toplevel
        from kubernetes.config.config_exception import ConfigException  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        raise KubeError(f"kubeconfig '{path}' authenticates with an exec or auth-provider plugin, which needs the "
                        f"Python library 'kubernetes' ({exc}); install it with: pip install kubernetes") from None
    configuration = k8s_client.Configuration()
    try:
        kube_config.KubeConfigLoader(config_dict=data, active_context=context,
                                     config_base_path=os.path.abspath(os.path.dirname(path))).load_and_set(configuration)
    except (ConfigException, ValueError, TypeError, KeyError) as exc:
        raise KubeError(f"kubeconfig '{path}' (context '{context}') cannot be used: {exc}") from None
    authorization = (configuration.api_key or {}).get("authorization", "")
    return Endpoint(host=configuration.host, token=authorization.removeprefix("Bearer ") or None,
                    verify=configuration.verify_ssl, ca_file=configuration.ssl_ca_cert,
                    cert_file=configuration.cert_file, key_file=configuration.key_file)


def kubeconfig_path(params: dict) -> str | None:
    """The kubeconfig file the module's connection reads: ``kubeconfig``, else (without ``host``) the first file of
    KUBECONFIG or ~/.kube/config; None when it reads none (``host`` alone, or in a pod without such a file)."""
    if params.get("kubeconfig"):
        return params["kubeconfig"]
    if params.get("host"):
        return None
    path = os.path.expanduser((os.environ.get("KUBECONFIG") or "~/.kube/config").split(os.pathsep)[0])
    if not os.path.exists(path) and os.environ.get("KUBERNETES_SERVICE_HOST"):
        return None
    return path


# The options that make the connection differ from what its kubeconfig file alone says.
OVERRIDES = ("context", "host", "api_key", "ca_cert", "validate_certs")


def build_configuration(params: dict) -> Endpoint:
    """The API server endpoint and credentials from the module's auth options."""
    require_libraries()
    host = params.get("host")
    path = kubeconfig_path(params)
    if path:
        endpoint = _endpoint_from_kubeconfig(path, params.get("context"))
    elif host:
        endpoint = Endpoint(host=host)
    else:
        endpoint = _in_cluster_endpoint()
    if host:
        endpoint.host = host
    if params.get("api_key"):
        endpoint.token = params["api_key"]
    if params.get("ca_cert"):
        if not os.path.exists(params["ca_cert"]):
            raise KubeError(f"ca_cert '{params['ca_cert']}' does not exist")
        endpoint.ca_file, endpoint.ca_data = params["ca_cert"], None
    if params.get("validate_certs") is not None:
        endpoint.verify = params["validate_certs"]
    return endpoint


def kubeconfig_server(data: dict, path: str, context: str | None = None) -> str:
    """The API server URL a kubeconfig (already loaded from ``path``) reaches with ``context`` or its current one."""
    name = context or data.get("current-context")
    if not name:
        raise KubeError(f"kubeconfig '{path}' has no current-context")
    server = _named(data, "clusters", _named(data, "contexts", name, path).get("cluster"), path).get("server")
    if not server:
        raise KubeError(f"kubeconfig '{path}' (context '{name}'): the cluster has no server")
    return str(server).rstrip("/")


def read_kubeconfig(path: str) -> dict:
    """A kubeconfig file as a mapping, with the errors the connection gives."""
    require_libraries()
    return _load_kubeconfig(path)


def kubeconfig_document(endpoint: Endpoint) -> dict:
    """A kubeconfig of one context that reaches ``endpoint`` with its credentials, for a tool that reads only
    kubeconfigs (calicoctl). client-go refuses a certificate authority together with insecure-skip-tls-verify,
    so an unverified endpoint has none."""
    cluster: dict = {"server": endpoint.host}
    if not endpoint.verify:
        cluster["insecure-skip-tls-verify"] = True
    elif endpoint.ca_data:
        cluster["certificate-authority-data"] = base64.b64encode(endpoint.ca_data).decode()
    elif endpoint.ca_file:
        cluster["certificate-authority"] = os.path.abspath(endpoint.ca_file)
    user: dict = {}
    if endpoint.token:
        user["token"] = endpoint.token
    for name, data, file in (("client-certificate", endpoint.cert_data, endpoint.cert_file),
                             ("client-key", endpoint.key_data, endpoint.key_file)):
        if data:
            user[f"{name}-data"] = base64.b64encode(data).decode()
        elif file:
            user[name] = os.path.abspath(file)
    return {"apiVersion": "v1", "kind": "Config", "current-context": "secure-cluster",
            "clusters": [{"name": "secure-cluster", "cluster": cluster}],
            "users": [{"name": "secure-cluster", "user": user}],
            "contexts": [{"name": "secure-cluster", "context": {"cluster": "secure-cluster", "user": "secure-cluster"}}]}


def write_private_kubeconfig(document: dict) -> str:
    """``document`` in a new file only this user may read (it holds credentials); the caller removes it."""
    require_libraries()
    fd, path = tempfile.mkstemp(prefix="secure_cluster-kubeconfig-", suffix=".yaml")  # mode 0600
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        yaml.safe_dump(document, handle, default_flow_style=False)
    return path


def _in_cluster_endpoint() -> Endpoint:
    host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    host = f"[{host}]" if ":" in host else host
    try:
        with open(os.path.join(IN_CLUSTER, "token"), encoding="utf-8") as handle:
            token = handle.read().strip()
    except OSError as exc:
        raise KubeError(f"running in a pod, but its service account token cannot be read: {exc.strerror}") from None
    return Endpoint(host=f"https://{host}:{port}", token=token, ca_file=os.path.join(IN_CLUSTER, "ca.crt"))


def _pool(endpoint: Endpoint):
    """A urllib3 pool that verifies the server (unless told not to) and presents the client certificate."""
    if not endpoint.host.startswith("https"):
        return urllib3.PoolManager(retries=False)
    try:
        return urllib3.PoolManager(ssl_context=_tls_context(endpoint), retries=False)
    except (OSError, ssl.SSLError, ValueError) as exc:  # ssl.SSLError is an OSError; named for the reader
        raise KubeError(f"the TLS settings for {endpoint.host} cannot be used (certificate authority or client "
                        f"certificate and key): {getattr(exc, 'strerror', None) or exc}") from None


def _tls_context(endpoint: Endpoint) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=endpoint.ca_file,
                                         cadata=endpoint.ca_data.decode() if endpoint.ca_data else None)
    # Verify as kubectl and the Kubernetes Go clients do (Go's crypto/x509): an issuer must be a CA (basic
    # constraints), and a key usage extension, when it has one, must allow certificate signing; a CA without key
    # usage is accepted. Python 3.13's default context adds OpenSSL's strict mode, which refuses such a CA
    # ("CA cert does not include key usage extension") where kubectl connects: keep OpenSSL's usual checks only.
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    if not endpoint.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if endpoint.cert_file or endpoint.cert_data:
        if endpoint.cert_data:  # ssl loads a client certificate from files only: a private directory, then gone
            with tempfile.TemporaryDirectory() as tmp:
                cert, key = os.path.join(tmp, "cert"), os.path.join(tmp, "key")
                for name, content in ((cert, endpoint.cert_data), (key, endpoint.key_data or b"")):
                    with open(os.open(name, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as handle:
                        handle.write(content)
                context.load_cert_chain(cert, key if endpoint.key_data else None)
        else:
            context.load_cert_chain(endpoint.cert_file, endpoint.key_file)
    return context


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


def contains(live, desired) -> bool:
    """Whether the live object already has every field the desired one sets (the API server adds defaults)."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(contains(live.get(k), v) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and len(live) == len(desired) and all(
            contains(a, b) for a, b in zip(live, desired))
    return live == desired


def connection_failure(exc: Exception) -> str | None:
    """How far a failed request got, as client-go tells a connection reset from a refused connection:

    ``unsent`` when the request cannot have reached the API server (connection refused, TLS handshake cut
    short): any request may be sent again. ``unknown`` when the connection broke after the
    request went out (reset by peer, response cut short: IncompleteRead): the server may have
    acted on it, so only a request that does the same when repeated is sent again. ``timeout``: no answer
    within the request's timeout (connecting, the TLS handshake or the response): never sent again, as client-go
    retries only resets and EOFs; a server that did not answer in time is stopped or overloaded, and each resend
    would hold the run for another timeout. None: not a connection failure (a certificate the client refuses, a
    bad URL), never retried."""
    if isinstance(exc, urllib3.exceptions.NewConnectionError):  # refused, no route: nothing was sent
        return "unsent"
    if isinstance(exc, (urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.ReadTimeoutError)):
        return "timeout"
    if isinstance(exc, urllib3.exceptions.SSLError):
        text = str(exc)
        if any(marker in text for marker in ("certificate", "CERTIFICATE", "wrong version number", "hostname")):
            return None
        return "unsent"  # EOF or reset during the handshake: no request bytes were sent
    if isinstance(exc, urllib3.exceptions.ProxyError):
        return "unsent"
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        return "unknown"
    return None


def _is_review(path: str) -> bool:
    return path.rstrip("/").rsplit("/", 1)[-1] in REVIEWS


def resend_rule(method: str, path: str, body, patch_type: str | None) -> str:
    """What may be done with a request whose connection broke after it may have reached the server.

    ``resend``: the request does the same when repeated (GET; a merge, strategic or apply PATCH of the same body;
    POSTs of reviews that store nothing). ``gone-ok``: DELETE of a named object or eviction of a named pod,
    where a 404 after the resend means the first one did it. ``verify``: a POST create or a PUT, which are
    never sent blindly again: the object is read back first (see :meth:`Kube.request`). ``no``: anything
    else (a JSON patch, a create without a name)."""
    if method in ("GET", "HEAD"):
        return "resend"
    if method == "PATCH":
        return "no" if patch_type == "json" else "resend"
    if method == "DELETE":
        return "gone-ok"
    if method == "POST":
        if _is_review(path):
            return "resend"
        if path.rstrip("/").endswith("/eviction"):
            return "gone-ok"
        name = ((body or {}).get("metadata") or {}).get("name") if isinstance(body, dict) else None
        return "verify" if name else "no"
    if method == "PUT":
        return "verify" if isinstance(body, dict) and (body.get("metadata") or {}).get("name") else "no"
    return "no"


class Kube:
    """A Kubernetes API connection: JSON requests with retries, call counting and clear errors."""

    def __init__(self, configuration: Endpoint, retries: int = 5, backoff: float = 0.2, agent: str = USER_AGENT,
                 timeout: float = 30.0):
        self.configuration = configuration
        self.host = configuration.host.rstrip("/")
        self.pool = _pool(configuration)
        self.agent = agent
        self.retries = retries
        self.backoff = backoff
        # A frozen or unreachable API server fails the request after this many seconds instead of hanging.
        self.timeout = timeout
        self.reads = 0
        self.writes = 0
        self.dry_runs = 0
        self._lock = threading.Lock()
        # API discovery answers, by apiVersion: kind -> (plural, namespaced); see k8s_apply.resource_of.
        self.discovered: dict[str, dict] = {}

    def request(self, method: str, path: str, body=None, query: dict | None = None,
                patch_type: str | None = None, retry_conflict: bool = True, headers: dict | None = None):
        """Send one request; returns the decoded JSON body. ``headers``: more request headers (impersonation).
        A request with ``dryRun`` in its query persists nothing: it is counted in ``dry_runs``, not ``writes``.

        Retries 429 (honouring Retry-After), 5xx and 409 Conflict with bounded exponential backoff. A request
        guarded by a resourceVersion conflicts again when resent, so its caller passes retry_conflict=False
        and re-reads instead.

        A broken connection is retried within the same bound when that is safe (see :func:`connection_failure`
        and :func:`resend_rule`): a request that never left is sent again; one that may have reached the server
        only when repeating it does the same. A create (POST) or replace (PUT) is first read back: the object as
        sent is there (our first request did it): done; not there (create): sent once more; else the error
        says so, the cluster is left for the user to judge.
        """
        headers = {"Accept": "application/json", "Content-Type": PATCH_TYPES.get(patch_type, "application/json"),
                   "User-Agent": self.agent, **(headers or {})}
        if self.configuration.token:
            headers["Authorization"] = f"Bearer {self.configuration.token}"
        params = {k: v for k, v in (query or {}).items() if v is not None}
        dry_run = "dryRun" in params
        url = self.host + path + ("?" + urllib.parse.urlencode(params) if params else "")
        payload = None if body is None else json.dumps(body).encode()
        # A dry run changes nothing, so it may always be sent again.
        rule = "resend" if dry_run else resend_rule(method, path, body, patch_type)
        broken = None  # the connection failure that made the last attempt a resend, if any
        for attempt in range(self.retries):
            with self._lock:
                if dry_run:
                    self.dry_runs += 1
                elif method in WRITE_METHODS:
                    self.writes += 1
                else:
                    self.reads += 1
            try:
                response = self.pool.request(method, url, body=payload, headers=headers,
                                             timeout=urllib3.Timeout(total=self.timeout), retries=False)
            except urllib3.exceptions.HTTPError as exc:
                how = connection_failure(exc)
                last = attempt == self.retries - 1
                if how in (None, "timeout") or last or (how == "unknown" and rule == "no"):
                    tried = f" (after {attempt + 1} attempts)" if attempt else ""
                    unsafe = (f"; {method} {path} is not sent again blindly, as the server may have acted on it"
                              if how == "unknown" and rule == "no" else "")
                    cause = (f"no answer within {self.timeout:g} s to {method} {path}"
                             if how == "timeout" else _describe_connection_error(exc))
                    raise KubeError(f"cannot reach the Kubernetes API server at {self.host}: "
                                    f"{cause}{tried}{unsafe}") from None
                time.sleep(min(self.backoff * (2 ** attempt), MAX_CONNECTION_BACKOFF))
                if how == "unknown" and rule == "verify":
                    done = self._made_by_us(method, path, body)
                    if done is not None:
                        return done
                broken = broken or how == "unknown"
                continue
            journaled = journal.active() and ((method == "GET" and "watch" not in params) or
                                              (method == "POST" and _is_review(path)))
            if 200 <= response.status <= 299:
                answer = json.loads(response.data) if response.data else {}
                if journaled:
                    journal.read("kube", method, path, params, response.status, answer,
                                 body if method == "POST" else None)
                return answer
            status, reason, message = self._api_error(response)
            if journaled and status in (403, 404):
                journal.read("kube", method, path, params, status, None, body if method == "POST" else None)
            if broken and status == 404 and rule == "gone-ok":
                return {}  # the request lost in the broken connection had done it
            if broken and status == 409 and rule == "verify":
                done = self._made_by_us(method, path, body)
                if done is not None:
                    return done
            retryable = status in RETRY_STATUS or (retry_conflict and status == 409 and reason == "Conflict")
            if not retryable or attempt == self.retries - 1:
                raise KubeError(f"{method} {path} on {self.host}: HTTP {status} {reason}: {message}",
                                status=status, reason=reason)
            time.sleep(self._delay(attempt, response))
        raise AssertionError("unreachable")

    def _made_by_us(self, method: str, path: str, body: dict):
        """After a create or replace whose answer was lost: the object if it holds what we sent (the lost
        request did it), None if a create should be sent again (absent), else a KubeError saying why not."""
        name = body["metadata"]["name"]
        target = f"{path.rstrip('/')}/{urllib.parse.quote(name)}" if method == "POST" else path
        live = self.get_or_none(target)
        sent = {k: v for k, v in body.items() if k != "metadata"}
        sent["metadata"] = {k: v for k, v in body["metadata"].items() if k not in ("resourceVersion",)}
        if live is not None and contains(live, sent):
            return live
        if live is None and method == "POST":
            return None
        if live is not None and method == "PUT" and body["metadata"].get("resourceVersion") == \
                live["metadata"].get("resourceVersion"):
            return None  # unchanged since we read it: the lost replace did not happen, send it again
        raise KubeError(f"the connection to {self.host} broke during {method} {target}, and the object "
                        f"{'does not exist' if live is None else 'now differs from what was sent'}: someone else "
                        f"may have changed it; read it and run again")

    @staticmethod
    def _api_error(response) -> tuple[int, str, str]:
        text = response.data.decode("utf-8", "replace") if response.data else ""
        try:
            body = json.loads(text or "{}")
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        return response.status, body.get("reason") or response.reason or "", body.get("message") or text.strip()

    def _delay(self, attempt: int, response) -> float:
        retry_after = response.headers.get("Retry-After")
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
