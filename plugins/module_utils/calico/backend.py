# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which backend reads and writes Calico (``api`` or ``calicoctl``), for every module that touches Calico:
the options, and how ``backend: auto`` chooses (and says why)."""

from __future__ import annotations

import os
import shutil

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.api import Api
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.calicoctl import Calicoctl
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.resources import (
    CRD, CalicoError, crd_path)
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import (
    OVERRIDES, KubeError, kubeconfig_document, kubeconfig_path, kubeconfig_server, read_kubeconfig,
    write_private_kubeconfig)

BACKEND_ARG_SPEC = {
    "backend": {"type": "str", "choices": ["auto", "api", "calicoctl"], "default": "auto"},
    "calicoctl_path": {"type": "path", "default": "calicoctl"},
    "calicoctl_config": {"type": "path"},
    "allow_version_mismatch": {"type": "bool", "default": False},
    "calicoctl_timeout": {"type": "int", "default": 60},
}


def backend_errors(params: dict) -> list[str]:
    """What is wrong with the backend options, before anything is run."""
    errors = []
    if params.get("calicoctl_timeout") is not None and params["calicoctl_timeout"] < 1:
        errors.append(f"calicoctl_timeout '{params['calicoctl_timeout']}' is not a number of seconds of at least 1")
    config = params.get("calicoctl_config")
    if config and not os.path.isfile(config):
        errors.append(f"calicoctl_config '{config}' is not a file")
    return errors


def calicoctl_kubeconfig(run) -> str:
    """The kubeconfig calicoctl gets for the Kubernetes datastore: the module's own connection, never a file the
    module did not choose. The module's kubeconfig file itself when the connection is that file alone; else (a
    context, host, api_key, ca_cert or validate_certs, or in-cluster) one written from the connection, private to
    this user and removed when the module ends. Either way calicoctl reaches the API server ``expected_cluster``
    was checked against."""
    params = run.params
    path = kubeconfig_path(params)
    if path and all(params.get(option) is None for option in OVERRIDES):
        if params.get("expected_cluster"):
            run.kube  # pylint: disable=pointless-statement  # the same file: checked once, on the connection
        return path
    generated = write_private_kubeconfig(kubeconfig_document(run.kube.configuration))
    run.module.add_cleanup_file(generated)  # removed by exit_json and fail_json
    return generated


def config_server(run, settings: dict, config: str) -> str:
    """The API server a calicoctl.cfg of the Kubernetes datastore points calicoctl at, refused unless it is the
    one the module's connection reaches (and so the one ``expected_cluster`` names): the policies would
    otherwise be written to one cluster while the module reads another."""
    spec = settings.get("spec") or {}
    if spec.get("k8sAPIEndpoint"):
        server = str(spec["k8sAPIEndpoint"]).rstrip("/")
    elif spec.get("kubeconfigInline") or spec.get("kubeconfig"):
        try:
            import yaml  # pylint: disable=import-outside-toplevel
            inline = yaml.safe_load(spec["kubeconfigInline"]) if spec.get("kubeconfigInline") else None
        except yaml.YAMLError as exc:
            raise CalicoError(f"calicoctl_config '{config}': kubeconfigInline is not valid YAML: {exc}") from None
        if inline is not None and not isinstance(inline, dict):
            raise CalicoError(f"calicoctl_config '{config}': kubeconfigInline is not a kubeconfig")
        source = f"{config} (kubeconfigInline)" if inline is not None else str(spec["kubeconfig"])
        server = kubeconfig_server(inline if inline is not None else read_kubeconfig(source), source)
    else:
        raise CalicoError(f"calicoctl_config '{config}' is for the Kubernetes datastore but names no cluster "
                          f"(kubeconfig, kubeconfigInline or k8sAPIEndpoint): calicoctl would pick one itself")
    if server != run.kube.host:
        raise CalicoError(f"refusing to act: calicoctl_config '{config}' points calicoctl at {server}, but this "
                          f"module's connection (kubeconfig, context or host) is {run.kube.host}: both must be the "
                          f"cluster to secure")
    return server


def calicoctl_of(run) -> Calicoctl:
    params = run.params
    config = params.get("calicoctl_config")
    calicoctl = Calicoctl(run.module.run_command, path=params.get("calicoctl_path") or "calicoctl", config=config,
                          kubeconfig=None if config else calicoctl_kubeconfig(run),
                          allow_version_mismatch=bool(params.get("allow_version_mismatch")),
                          timeout=params.get("calicoctl_timeout") or 60)
    if calicoctl.datastore == "kubernetes" and config:
        config_server(run, calicoctl.settings, config)
    return calicoctl


def api_usable(run) -> tuple[bool, str]:
    """Whether the Kubernetes API serves crd.projectcalico.org and this identity may list policies there."""
    try:
        kube = run.kube
        if kube.get_or_none(f"/apis/{CRD}") is None:
            return False, f"the Kubernetes API does not serve {CRD} (no Calico Kubernetes datastore)"
        kube.request("GET", crd_path("GlobalNetworkPolicy", None), query={"limit": "1"})
    except KubeError as exc:
        if exc.status == 403:
            return False, f"this identity may not list {CRD} globalnetworkpolicies: {exc}"
        return False, f"the Kubernetes API cannot be used: {exc}"
    return True, f"the Kubernetes API serves {CRD} and this identity may list its globalnetworkpolicies"


def calicoctl_at_hand(params: dict) -> tuple[bool, str]:
    path = params.get("calicoctl_path") or "calicoctl"
    if not shutil.which(path):
        return False, f"no calicoctl at calicoctl_path '{path}'"
    if not params.get("calicoctl_config"):
        return False, f"calicoctl is at '{shutil.which(path)}' but no calicoctl_config names its datastore"
    return True, f"calicoctl '{shutil.which(path)}' with calicoctl_config '{params['calicoctl_config']}'"


def choose(run):
    """The backend for this run and why: the one asked for, or for ``auto`` the api backend when the Kubernetes
    API serves Calico's CRDs to this identity, else calicoctl when a binary and a calicoctl.cfg are at hand."""
    params = run.params
    if params.get("expected_cluster"):
        run.kube  # pylint: disable=pointless-statement  # checks expected_cluster before any other call
    wanted = params.get("backend") or "auto"
    if wanted == "api":
        return Api(run.kube), "backend: api was asked for"
    if wanted == "calicoctl":
        return run.counted(calicoctl_of(run)), "backend: calicoctl was asked for"
    usable, api_reason = api_usable(run)
    if usable:
        return Api(run.kube), f"auto chose api: {api_reason}"
    at_hand, calicoctl_reason = calicoctl_at_hand(params)
    if at_hand:
        return run.counted(calicoctl_of(run)), f"auto chose calicoctl: {api_reason}; {calicoctl_reason}"
    raise CalicoError(f"backend auto found no way to reach Calico: api: {api_reason}; calicoctl: {calicoctl_reason}. "
                      f"Give calicoctl_config (a calicoctl.cfg for the cluster's datastore) and calicoctl_path, or "
                      f"use a kubeconfig whose identity may use {CRD}")
