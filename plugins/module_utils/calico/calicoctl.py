# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The calicoctl backend: Calico resources read with ``calicoctl get -o yaml`` (one call per kind and
namespace) and written with ``calicoctl apply -f -`` / ``calicoctl delete``, on the etcdv3 or the Kubernetes
datastore, as calicoctl v3.28 does it (what it prints and refuses is taken from recorded runs of a real
calicoctl v3.28.5).

What calicoctl prints (``projectcalico.org/v3``) is held in the same stored form as the api backend reads
(:func:`resources.to_crd`), so planning, the lock-out guard, the diff and undo are one code path for both.
"""

from __future__ import annotations

import os
import shutil
import threading

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.resources import (
    KINDS, V3, CalicoError, storage_name, to_crd)
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import journal

CONFIG_KIND = "CalicoAPIConfig"
DATASTORES = ("etcdv3", "kubernetes")
# Environment calicoctl reads its datastore from: with a config file, none of it may reach calicoctl, so the
# file alone says where Calico is.
DATASTORE_ENV_PREFIXES = ("DATASTORE_TYPE", "KUBECONFIG", "ETCD_", "K8S_", "CALICO_")
# Config fields that hold secrets inline (the *File fields only name files).
SECRET_FIELDS = ("etcdPassword", "etcdKey", "etcdCert", "etcdCACert", "k8sAPIToken")
NOT_FOUND = "resource does not exist"
MISMATCH = "Version mismatch."
VERSION_CHECK_FAILED = "Unable to get Cluster Information to verify version mismatch"
NO_CLUSTER_INFORMATION = "resource does not exist: ClusterInformation(default)"


class CalicoctlError(CalicoError):
    """calicoctl failed or refused: its own words, with the command that failed."""


class Outcome:
    """How one calicoctl command ended."""

    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


def load_config(path: str) -> dict:
    """The calicoctl.cfg at ``path`` as a mapping, checked before calicoctl is ever run: calicoctl v3 reads
    only ``projectcalico.org/v3`` ``CalicoAPIConfig``; the older ``v1`` ``calicoApiConfig`` form (seed 004) is
    refused with the v3 document to use instead."""
    try:
        import yaml  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise CalicoError("the Python library PyYAML is required for the calicoctl backend") from None
    try:
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        raise CalicoError(f"cannot read calicoctl_config '{path}': {exc}") from None
    if not isinstance(config, dict):
        raise CalicoError(f"calicoctl_config '{path}' is not a calicoctl.cfg (a {CONFIG_KIND} mapping)")
    spec = config.get("spec") if isinstance(config.get("spec"), dict) else {}
    if config.get("apiVersion") == "v1" or config.get("kind") == "calicoApiConfig":
        raise CalicoError(
            f"calicoctl_config '{path}' is in the Calico v1 form (apiVersion: v1, kind: calicoApiConfig), which "
            f"calicoctl v3 refuses (\"unknown APIVersion 'v1'\"). Write it in the v3 form instead, with the same "
            f"spec fields: {v3_form(spec)}. calicoctl v3 reads only the etcdv3 datastore: if the cluster's "
            f"Calico data is still in etcdv2 (Calico v2), migrate it first (calico-upgrade)")
    if config.get("apiVersion") != V3 or config.get("kind") != CONFIG_KIND:
        raise CalicoError(f"calicoctl_config '{path}' has apiVersion '{config.get('apiVersion')}' and kind "
                          f"'{config.get('kind')}'; calicoctl v3 reads apiVersion {V3}, kind {CONFIG_KIND}")
    datastore = spec.get("datastoreType") or "etcdv3"
    if datastore not in DATASTORES:
        raise CalicoError(f"calicoctl_config '{path}': datastoreType '{datastore}' is not one of "
                          f"{', '.join(DATASTORES)}")
    # Calico documents etcdEndpoints as required and etcdDiscoverySrv as the one alternative, never both;
    # without either, calicoctl would try an etcd on this host, which is never the cluster's.
    if datastore == "etcdv3" and bool(spec.get("etcdEndpoints")) == bool(spec.get("etcdDiscoverySrv")):
        raise CalicoError(f"calicoctl_config '{path}' (etcdv3 datastore) "
                          + ("gives both etcdEndpoints and etcdDiscoverySrv: give one" if spec.get("etcdEndpoints")
                             else "names no etcd: set etcdEndpoints (e.g. https://10.0.0.1:2379) or etcdDiscoverySrv"))
    return config


def v3_form(spec: dict) -> str:
    """The v3 document for a v1 spec, secrets shown as placeholders (flow style, for one message line)."""
    shown = {k: ("<as in your file>" if k in SECRET_FIELDS else v) for k, v in spec.items()}
    shown.setdefault("datastoreType", "etcdv3")
    fields = ", ".join(f"{k}: {v}" for k, v in shown.items())
    return f"{{apiVersion: {V3}, kind: {CONFIG_KIND}, metadata: {{}}, spec: {{{fields}}}}}"


def secrets_of(config: dict | None) -> list[str]:
    spec = (config or {}).get("spec") or {}
    return [str(spec[k]) for k in SECRET_FIELDS if spec.get(k)]


def kind_arg(kind: str) -> str:
    """calicoctl's resource type word: the kind in lower case (globalnetworkpolicy, hostendpoint)."""
    return kind.lower()


class Calicoctl:
    """One calicoctl binary with one datastore: a calicoctl.cfg (``config``), else the Kubernetes datastore
    through ``kubeconfig`` (a file of one current context: the module's own connection). Counts its read and write commands like a Kubernetes client."""

    name = "calicoctl"

    def __init__(self, run_command, path: str = "calicoctl", config: str | None = None, kubeconfig: str | None = None,
                 allow_version_mismatch: bool = False, timeout: float = 60):
        self.run_command = run_command  # AnsibleModule.run_command
        self.path = path
        self.config = config
        self.settings = load_config(config) if config else None
        self.kubeconfig = kubeconfig
        self.allow_version_mismatch = allow_version_mismatch
        self.timeout = timeout
        self.reads = 0
        self.writes = 0
        if self.settings is None and not kubeconfig:
            raise CalicoError("the calicoctl backend needs calicoctl_config (a calicoctl.cfg) or a kubeconfig "
                              "(kubeconfig, K8S_AUTH_KUBECONFIG or KUBECONFIG) for the Kubernetes datastore")

    @property
    def datastore(self) -> str:
        if self.settings is None:
            return "kubernetes"
        return (self.settings.get("spec") or {}).get("datastoreType") or "etcdv3"

    # --- commands ----------------------------------------------------------------------------

    def argv(self, verb: str, *args: str) -> list[str]:
        """The command line: ``--config`` and the other global options are options of each command, so they
        come right after the verb (``calicoctl get --config FILE globalnetworkpolicy -o yaml``)."""
        out = [self.path, verb]
        if self.config:
            out += ["--config", self.config]
        if self.allow_version_mismatch and verb != "version":
            out.append("--allow-version-mismatch")
        return out + list(args)

    def environment(self) -> dict:
        """What calicoctl's environment adds to this process's (from which every datastore variable is left out)."""
        if self.settings is None:
            return {"DATASTORE_TYPE": "kubernetes", "KUBECONFIG": self.kubeconfig}
        return {}

    def call(self, argv: list[str], stdin: str | None = None, write: bool = False) -> Outcome:
        """Run one calicoctl command, stopped after ``timeout`` seconds (calicoctl keeps retrying an unreachable
        etcd by itself)."""
        journal.incomplete("calicoctl answered a step (its reads are not replayed)")
        if write:
            self.writes += 1
        else:
            self.reads += 1
        if not shutil.which(self.path):
            raise CalicoctlError(f"calicoctl_path '{self.path}' is not an executable on this host: install "
                                 f"calicoctl v3 (matching the cluster's Calico) or set calicoctl_path")
        stopped = threading.Event()
        watchers: list = []

        def bound(process) -> None:
            timer = threading.Timer(self.timeout, lambda: (stopped.set(), process.kill()))
            timer.daemon = True
            timer.start()
            watchers.append(timer)

        # The datastore variables of this environment never reach calicoctl: the config (or the kubeconfig
        # given) alone says where Calico is. run_command starts from os.environ, so they are set aside meanwhile.
        aside = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith(DATASTORE_ENV_PREFIXES)}
        try:
            rc, out, err = self.run_command(argv, data=stdin, environ_update=self.environment(),
                                            expand_user_and_vars=False, before_communicate_callback=bound)
        finally:
            os.environ.update(aside)
            for timer in watchers:
                timer.cancel()
        if stopped.is_set():
            raise CalicoctlError(
                f"`{' '.join(argv)}` did not finish within {self.timeout} s and was stopped: calicoctl does not give "
                f"up on a datastore it cannot reach (check the endpoints in {self.config or 'the kubeconfig'}), or "
                f"raise calicoctl_timeout")
        return Outcome(rc, out or "", err or "")

    def failure(self, argv: list[str], proc: Outcome) -> CalicoctlError:
        """calicoctl's own error text (it prints some on stdout), with the command, never a config secret."""
        text = (proc.stderr or "").strip() or (proc.stdout or "").strip() or "no output"
        for secret in secrets_of(self.settings):
            text = text.replace(secret, "<redacted>")
        hint = ""
        if VERSION_CHECK_FAILED in text:
            hint = (" (calicoctl reads ClusterInformation first to compare versions, so this is the datastore "
                    "not answering, not a version mismatch)")
        elif MISMATCH in text:
            hint = (" (calicoctl's version differs from the cluster's Calico: use a calicoctl of the cluster's "
                    "version, or set allow_version_mismatch=true once you know this calicoctl writes what that "
                    "Calico reads)")
        return CalicoctlError(f"`{' '.join(argv)}` failed (rc {proc.returncode}): {' '.join(text.split())}{hint}")

    def run(self, verb: str, *args: str, stdin: str | None = None, write: bool = False) -> str:
        argv = self.argv(verb, *args)
        proc = self.call(argv, stdin, write)
        if proc.returncode != 0:
            raise self.failure(argv, proc)
        return proc.stdout or ""

    # --- the backend seam ------------------------------------------------------------------------

    def cluster_information(self) -> dict:
        """Calico's version and type as ``calicoctl version`` reports them (from ClusterInformation)."""
        argv = self.argv("version")
        proc = self.call(argv)
        if proc.returncode != 0:
            if NO_CLUSTER_INFORMATION in (proc.stderr or ""):
                return {"version": "", "cluster_type": "", "datastore_ready": None,
                        "note": "no ClusterInformation 'default' yet: calico-node has not started in this cluster"}
            raise self.failure(argv, proc)
        fields = {}
        for line in (proc.stdout or "").splitlines():
            key, colon, value = line.partition(":")
            if colon:
                fields[key.strip()] = value.strip()
        return {"version": fields.get("Cluster Version", ""), "cluster_type": fields.get("Cluster Type", ""),
                "datastore_ready": None, "client_version": fields.get("Client Version", "")}

    def read(self, kind: str, namespace: str | None, names=None) -> list[dict]:
        """The stored objects of a kind in a namespace (every namespace for a namespaced kind without one):
        one ``calicoctl get -o yaml`` whatever ``names`` asks for."""
        args = [kind_arg(kind)]
        if KINDS[kind][1]:
            args += ["-n", namespace] if namespace else ["-A"]
        found = parse_list(self.run("get", *args, "-o", "yaml"))
        return [stored_form(obj) for obj in found]

    def felix_configuration(self) -> dict:
        """The spec of FelixConfiguration ``default``, or {} when there is none."""
        argv = self.argv("get", "felixconfiguration", "default", "-o", "yaml")
        proc = self.call(argv)
        if proc.returncode != 0:
            if NOT_FOUND in (proc.stderr or ""):
                return {}
            raise self.failure(argv, proc)
        return (parse_list(proc.stdout) or [{}])[0].get("spec") or {}

    def store(self, desired: dict, given: dict, stored: dict | None) -> None:
        """Create or replace one resource: ``calicoctl apply -f -`` with the resource as given (calicoctl
        fills the defaults itself, as it does for a seed's file)."""
        self.run("apply", "-f", "-", stdin=dump(given), write=True)

    def remove(self, desired: dict) -> None:
        """Delete one resource; one that is already gone counts as deleted."""
        meta = desired["metadata"]
        args = [kind_arg(desired["kind"]), meta["name"]]
        if KINDS[desired["kind"]][1]:
            args += ["-n", meta.get("namespace") or "default"]
        argv = self.argv("delete", *args)
        proc = self.call(argv, write=True)
        if proc.returncode != 0 and NOT_FOUND not in (proc.stderr or ""):
            raise self.failure(argv, proc)


def parse_list(text: str) -> list[dict]:
    """The objects of ``calicoctl get -o yaml`` output: a ``<Kind>List`` with ``items``, or one object."""
    import yaml  # pylint: disable=import-outside-toplevel

    try:
        doc = yaml.safe_load(text or "")
    except yaml.YAMLError as exc:
        raise CalicoctlError(f"calicoctl printed something that is not YAML: {exc}") from None
    if not doc:
        return []
    if not isinstance(doc, dict):
        raise CalicoctlError(f"calicoctl printed {type(doc).__name__}, not a resource or a list of them")
    if str(doc.get("kind", "")).endswith("List"):
        return [item for item in doc.get("items") or [] if isinstance(item, dict)]
    return [doc]


def stored_form(obj: dict) -> dict:
    """A v3 object as calicoctl prints it, in the stored form the api backend reads (tier-prefixed name,
    v3 metadata in the annotation), with calicoctl's resourceVersion."""
    meta = obj.get("metadata") or {}
    created = meta.get("creationTimestamp") or ""
    out = to_crd({"kind": obj["kind"], "metadata": meta, "spec": obj.get("spec") or {}}, created)
    out["metadata"]["resourceVersion"] = meta.get("resourceVersion")
    out["metadata"]["name"] = storage_name(obj["kind"], meta["name"])
    return out


def dump(resource: dict) -> str:
    import yaml  # pylint: disable=import-outside-toplevel

    return yaml.safe_dump(resource, default_flow_style=False, sort_keys=False)
