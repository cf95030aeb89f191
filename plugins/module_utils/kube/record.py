# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The record of a converged cluster: what the pattern's steps read after a run that succeeded, and the inputs
they read it with (the converged module; the journal is module_utils/kube/journal.py).

A later run with the same inputs replays those reads, each once. When every one answers as recorded, each step
would read what it read when it had nothing left to do, and would decide the same: the steps are skipped. Any
difference (an input, the collection's own files, the kubeconfig, one answer) drops the record, and every step
runs and decides for itself. The record is never trusted for a write: a step that runs re-reads what it changes.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import json
import os
import secrets
import tempfile
import time

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.ibm import iks
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import journal
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import (
    KubeError, kubeconfig_path)
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.errors import SecureClusterError

FORMAT = 1
# The collection's own files: another release of the pattern decides with other rules.
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SOURCES = ("plugins", "roles", "playbooks")
# A journal this old is a run that was cut short (a run's journal lives from its start to its end).
STALE = 86400


def sources_digest(root: str = ROOT) -> str:
    """A digest of the collection's plugins, roles and playbooks ("" when they are not files here)."""
    found = hashlib.sha256()
    seen = 0
    for part in SOURCES:
        for folder, dirs, files in sorted(os.walk(os.path.join(root, part))):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".pyc", ".pyo")):
                    continue
                path = os.path.join(folder, name)
                with open(path, "rb") as handle:
                    found.update(os.path.relpath(path, root).encode() + b"\0" + handle.read() + b"\0")
                seen += 1
    return found.hexdigest() if seen else ""


def inputs_digest(salt: str, inputs, params: dict, sources: str) -> str:
    """The salted digest of everything the steps decide with, besides the cluster: the pattern's variables,
    the kubeconfig (its identity is the one the guard exempts) and the collection's files."""
    found = hashlib.sha256(salt.encode())
    found.update(str(inputs).encode())
    path = kubeconfig_path(params)
    if path and os.path.isfile(path):
        with open(path, "rb") as handle:
            found.update(handle.read())
    found.update(json.dumps([params.get("context"), params.get("host"), params.get("api_key"), params.get("platform"),
                             sources],
                            default=str).encode())
    return found.hexdigest()


class Replayer:
    """Sends a journal's reads again: the Kubernetes API through the module's connection, the IKS API through a
    client made from the module's IKS options on first use."""

    def __init__(self, run):
        self.run = run
        self._iks = None

    def answer(self, entry: dict) -> tuple[int, str]:
        """(status, digest) of the read now; an absent or forbidden object is an answer too."""
        if entry["service"] == "iks":
            if self._iks is None:
                self._iks = self.run.counted(iks.client_of(self.run.params))
            if (entry.get("query") or {}).get("api") != self._iks.api_url:
                return -1, ""  # another IKS API than the one recorded
            send = functools.partial(self._iks.request, "GET", entry["path"], what="the recorded read")
        else:
            send = functools.partial(self.run.kube.request, entry["method"], entry["path"], body=entry.get("request"),
                                     query=entry.get("query") or None)
        try:
            body = send()
        except (KubeError, iks.IksError) as exc:
            if exc.status in (403, 404):
                return exc.status, journal.digest(None)
            raise
        return 200, journal.digest(body)


def _load(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def _drop(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _shown(entry: dict) -> str:
    query = entry.get("query") if entry["service"] == "kube" else None
    return entry["path"] + ("?" + "&".join(f"{k}={v}" for k, v in sorted(query.items())) if query else "")


def check(run) -> dict:
    """Whether the cluster and the inputs are as recorded after the last converged run: the result of the
    module's state check. Starts this run's journal either way; a record that no longer holds is dropped."""
    params = run.params
    sources = sources_digest()
    started = {}
    if params["journal"]:
        # This run's own journal (two runs at once keep two), and none left over from runs cut short long ago.
        for old in glob.glob(glob.escape(params["journal"]) + ".*"):
            if time.time() - os.path.getmtime(old) > STALE:
                _drop(old)
        started["journal"] = f"{params['journal']}.{secrets.token_hex(6)}"
        salt = secrets.token_hex(16)
        # The inputs as this run starts: the record at its end keeps them, whatever the steps set meanwhile.
        journal.start(started["journal"], {"salt": salt, "inputs": inputs_digest(salt, params["inputs"], params,
                                                                                 sources)})
    saved = _load(params["path"])
    if saved is None:
        return {"converged": False, "reason": "no record of a converged run", "reads": 0, **started}
    if not sources or inputs_digest(saved["salt"], params["inputs"], params, sources) != saved["inputs"]:
        _drop(params["path"])
        return {"converged": False, "reason": "the inputs or the collection changed since the record", "reads": 0,
                **started}
    replay = Replayer(run)
    for count, entry in enumerate(saved["reads"], 1):
        try:
            status, found = replay.answer(entry)
        except SecureClusterError as exc:
            status, found = -1, str(exc)
        if (status, found) != (entry["status"], entry["digest"]):
            _drop(params["path"])
            return {"converged": False, "reads": count, **started,
                    "reason": f"{entry['method']} {_shown(entry)} answers differently than at the record"}
    _drop(started.get("journal", ""))
    return {"converged": True, "reason": f"every step's {len(saved['reads'])} reads answer as recorded at "
                                         f"{saved['recorded']}", "reads": len(saved["reads"]),
            "facts": saved.get("facts") or {}, "recorded": saved["recorded"]}


def keep(run) -> dict:
    """Record what the steps of this run read, read again now that they are done (state record)."""
    params = run.params
    header, entries, incomplete = (journal.load(params["journal"]) if params["journal"]
                                   else ({}, [], "no journal was kept"))
    _drop(params["journal"] or "")
    _drop(params["path"])
    if not incomplete and not sources_digest():
        incomplete = "the collection's files cannot be read here"
    if incomplete:
        return {"recorded": False, "reason": incomplete, "reads": 0}
    replay = Replayer(run)
    reads = []
    for entry in entries:
        try:
            status, found = replay.answer(entry)
        except SecureClusterError as exc:
            return {"recorded": False, "reason": f"reading {entry['method']} {entry['path']} again failed: {exc}",
                    "reads": len(reads)}
        reads.append({**entry, "status": status, "digest": found})
    saved = {"format": FORMAT, "salt": header["salt"], "inputs": header["inputs"],
             "reads": reads, "facts": params["facts"] or {},
             "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    folder = os.path.dirname(params["path"]) or "."
    os.makedirs(folder, mode=0o700, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".record-")  # mode 0600
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(saved, out)
    os.replace(temporary, params["path"])
    return {"recorded": True, "reason": f"{len(reads)} reads recorded", "reads": len(reads)}
