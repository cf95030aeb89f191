# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The calico_policy module: validate, plan, guard, write, and (with ``probe``) check and undo."""

from __future__ import annotations

import time

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico import api, backend, guard, validation
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.guard import keep_open_errors
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.resources import (
    CalicoError, load_src, resources_from)
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.errors import raise_if
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import KubeError, connect

PROBE_ATTEMPTS = 3


def resources_of(params: dict) -> list[dict]:
    return load_src(params["src"]) if params.get("src") else resources_from(params)


def param_errors(params: dict) -> list[str]:
    """Everything wrong with the input, before any call to the cluster."""
    resources = resources_of(params)
    # The up-front check of the backend alone (validate_only without resources) needs no resources.
    errors = ([] if params.get("validate_only") and not resources else validation.resource_errors(resources))
    errors += keep_open_errors(params["keep_open"]) + backend.backend_errors(params)
    protected = [r["metadata"]["name"] for r in resources if isinstance(r, dict) and r.get("kind") == "GlobalNetworkPolicy"
                 and (r.get("metadata") or {}).get("name") in params["protected_names"]]
    if protected and not params["force"]:
        errors.append(f"refusing to change the provider's default policies {', '.join(protected)}: the provider "
                      f"recreates them; add your own policy with a lower order instead (or set force=true)")
    return errors


def chosen(run) -> tuple:
    """The backend, chosen as ``backend`` asks (which refuses a calicoctl.cfg calicoctl would misread or that
    points at another cluster than the module's connection), and the result fields that say which and why."""
    store, reason = backend.choose(run)
    return store, {"backend": store.name, "backend_reason": reason, "datastore": store.datastore}


def validate(run) -> dict:
    """The up-front check of a step (``validate_only``): the run's own choice of backend. It may read (the API
    groups, for ``auto``); it never runs calicoctl and never writes."""
    return chosen(run)[1]


def run(run) -> dict:
    """Apply or remove the resources; see the module's documentation."""
    params, state = run.params, run.params["state"]
    resources = resources_of(params)
    store, out = chosen(run)
    out["calico"] = store.cluster_information()
    # Fields this cluster's Calico does not have are refused before anything is read or written.
    raise_if(validation.version_errors(resources, out["calico"]["version"]))
    if out["calico"].get("datastore_ready") is False:
        run.warn("Calico reports its datastore not ready (ClusterInformation datastoreReady=false): the policies "
                 "are stored but Felix does not enforce them until it is ready")
    whole = ["GlobalNetworkPolicy"] + (["HostEndpoint"] if params["keep_open"] else [])
    steps, live = api.plan(store, resources, state, whole_kinds=whole)
    policies, ignored = guard.policies_after(steps, live, state)
    for name, errors in ignored:
        run.warn(f"GlobalNetworkPolicy {name} in the cluster is invalid, so Felix ignores it (treats it as "
                 f"missing), and so do the order report and the lock-out guard: {'; '.join(errors)}")
    clashes, allowed_before = guard.order_report(steps, policies[1])
    out["order"] = {"clashes": clashes, "allowed_before": allowed_before}
    for clash in clashes:
        run.warn(clash)
    if params["keep_open"] and any(step["changed"] for step in steps):
        out["reachability"] = guard.refuse_lockouts(run, store, steps, live, policies)
    out["resources"] = write(run, store, steps, state)
    changed = [r for r in out["resources"] if r["changed"]]
    out["changed"] = bool(changed)
    out["diff"] = {"before": {f"{r['kind']}/{r['name']}": r["before"] for r in changed},
                   "after": {f"{r['kind']}/{r['name']}": r["after"] for r in changed}}
    return out


def write(run, store, steps: list[dict], state: str) -> list[dict]:
    """Write what differs (through the run's backend); with ``probe``, check the API server still answers and
    undo everything otherwise."""
    if not run.params["probe"] or run.check_mode:
        return api.execute(store, steps, state, run.check_mode)
    results: list[dict] = []
    try:
        results = api.execute(store, steps, state, False)
        if any(r["changed"] for r in results):
            probe(run.params, run.params["probe_timeout"])
    except api.PartialFailure as exc:
        raise undone(run, store, exc.results, str(exc)) from None
    except KubeError as exc:
        raise undone(run, store, results, f"the API server stopped answering after the change: {exc}") from None
    return results


def probe(params: dict, timeout: float) -> None:
    """A new connection to the API server (new TCP and TLS session, as a new client would open it) asking for
    its version, which any authenticated user may read; raises KubeError when it does not answer in time."""
    deadline = time.monotonic() + timeout
    for attempt in range(PROBE_ATTEMPTS):
        try:
            fresh = connect(params, agent="secure_cluster/calico_policy-probe")
            fresh.timeout = max(1.0, deadline - time.monotonic())
            fresh.retries = 1
            fresh.get("/version")
            return
        except KubeError:
            if attempt == PROBE_ATTEMPTS - 1 or time.monotonic() >= deadline:
                raise
            time.sleep(1)


def undone(run, store, results: list[dict], reason: str) -> CalicoError:
    """Undo what this run changed (put back what it replaced or deleted, delete what it created), and return
    the error to raise: the reason, what was undone, and what could not be."""
    restore = [r["before"] for r in results if r["changed"] and r["before"] is not None]
    remove = [r["after"] for r in results if r["changed"] and r["before"] is None]
    problems = []
    for state, resources in (("present", restore), ("absent", remove)):
        if not resources:
            continue
        try:
            steps, _live = api.plan(store, resources, state)
            api.execute(store, steps, state, False)
        except (KubeError, CalicoError) as exc:
            problems.append(f"could not {'restore' if state == 'present' else 'remove'} "
                            f"{', '.join(r['metadata']['name'] for r in resources)}: {exc}")
    names = [r["name"] for r in results if r["changed"]]
    summary = f"undone: {', '.join(names)}" if names else "nothing had been written"
    return CalicoError(f"{reason}; {summary}" + (f"; {'; '.join(problems)}" if problems else ""),
                       {"changed": bool(problems), "resources": results, "undone": not problems})
