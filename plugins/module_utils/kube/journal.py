# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reads of a run, for the pattern's record of a converged cluster (the converged module).

While the environment names a journal file (``SECURE_CLUSTER_JOURNAL``: the in-process runner sets it for the
pattern's step modules), the Kubernetes and IKS clients append one JSON line per answered read: a GET (not a
watch) or an access review, with the answer's status and a digest of its body. A step's decision is a function of
its arguments and of these answers, so when the arguments are the same and every read answers the same digest,
the step has nothing to do. What cannot be replayed (a calicoctl run, a module run in another process) marks the
journal incomplete instead, and then no record is kept.

The digest leaves out what changes without anyone changing the object: resourceVersion (and a list's continue
token), managedFields and the kubelet's heartbeat times. Anything else that differs, status included, makes the next run take every step.
"""

from __future__ import annotations

import hashlib
import json
import os

ENV = "SECURE_CLUSTER_JOURNAL"
# A list's continue token encodes the resourceVersion it was read at.
VOLATILE = frozenset(("resourceVersion", "managedFields", "lastHeartbeatTime", "continue"))


def _stable(value):
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _unordered(value):
    """Every list sorted: the rules of a rules review come in no set order (the API server merges them from
    the bindings as it finds them)."""
    if isinstance(value, dict):
        return {k: _unordered(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((_unordered(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True, default=str))
    return value


def digest(body) -> str:
    """The answer's digest, without the fields that change on their own."""
    body = _stable(body)
    if isinstance(body, dict) and str(body.get("kind", "")).endswith("RulesReview"):
        body = {**body, "status": _unordered(body.get("status"))}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _append(entry: dict) -> None:
    path = os.environ.get(ENV)
    if path:
        try:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, sort_keys=True) + "\n")
        except OSError:
            pass  # the journal is gone (its run is over, or its folder): it has no start, so no record is made


def active() -> bool:
    return bool(os.environ.get(ENV))


def read(service: str, method: str, path: str, query: dict | None, status: int, body, request=None) -> None:
    """One answered read: ``service`` kube or iks; ``request`` the body of an access review (never a secret)."""
    if active():
        status = 200 if 200 <= status <= 299 else status
        _append({"service": service, "method": method, "path": path, "query": query or {}, "status": status,
                 "digest": digest(body), **({"request": request} if request is not None else {})})


def incomplete(reason: str) -> None:
    """Something decided this run that the journal cannot replay: no record is kept."""
    if active():
        _append({"incomplete": reason})


def start(path: str, header: dict) -> None:
    """A new journal (mode 0600) whose first line is ``header``."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, mode=0o700, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(json.dumps({"header": header}) + "\n")


def load(path: str) -> tuple[dict, list[dict], str]:
    """The journal's header, its reads (each once), and why it is incomplete ("" when it is not)."""
    header: dict = {}
    entries: dict[str, dict] = {}
    reason = ""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.readlines()
    except FileNotFoundError:
        return header, [], "no journal was kept"
    for line in lines:
        entry = json.loads(line)
        if "header" in entry:
            header = entry["header"]
        elif "incomplete" in entry:
            reason = reason or entry["incomplete"]
        else:
            entries[key(entry)] = entry
    return header, list(entries.values()), reason or ("" if header else "the journal has no start")


def key(entry: dict) -> str:
    return json.dumps([entry["service"], entry["method"], entry["path"], entry.get("query") or {},
                       entry.get("request")], sort_keys=True)
