"""Helpers shared by the benchmarks: timing with write counts from the audit log, playbook runs, and the
kubernetes.core collection a user would otherwise reach for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# kubernetes.core comes from the `ansible` community package on PyPI (only that collection is unpacked).
ANSIBLE_PACKAGE = "ansible==12.2.0"
BENCH_COLLECTIONS = REPO / ".build" / "bench"


def kube_bin(name: str) -> str:
    dirs = dict(line.split("=", 1) for line in subprocess.run(
        [str(REPO / "tests/cluster/build"), "--print-dir"], check=True, capture_output=True, text=True).stdout.split())
    return str(Path(dirs["KUBE_BIN"]) / name)


# kwok and the controller-manager use the same admin kubeconfig in the test cluster: not the user's writes.
BACKGROUND_AGENTS = ("kwok", "kube-controller-manager", "kube-scheduler")


def writes(cluster, mark: int) -> int:
    """Write requests made with the admin credentials since the mark, background components excluded."""
    count = 0
    with open(cluster.env["AUDIT_LOG"], encoding="utf-8") as handle:
        for line in handle.readlines()[mark:]:
            event = json.loads(line)
            if (event.get("stage") == "ResponseComplete" and event["user"]["username"] == "secure-cluster-admin"
                    and not event.get("userAgent", "").startswith(BACKGROUND_AGENTS)
                    and event["verb"] in ("create", "update", "patch", "delete")):
                count += 1
    return count


def timed(cluster, action) -> tuple[float, int]:
    mark = cluster.audit_mark()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start, writes(cluster, mark)


def playbook(cluster, text: str, workdir: Path, collections: str) -> None:
    path = workdir / "play.yml"
    path.write_text(text)
    env = {**os.environ, **cluster.env, "ANSIBLE_COLLECTIONS_PATH": collections}
    result = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                             "-e", f"ansible_python_interpreter={sys.executable}", str(path)],
                            capture_output=True, text=True, env=env, check=False)
    if result.returncode:
        raise SystemExit(f"playbook failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")


def ensure_kubernetes_core() -> str:
    target = BENCH_COLLECTIONS / "ansible_collections" / "kubernetes" / "core"
    if not (target / "MANIFEST.json").exists():
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([str(VENV_BIN / "pip"), "download", "--quiet", "--no-deps", ANSIBLE_PACKAGE, "-d", tmp],
                           check=True)
            wheel = next(Path(tmp).glob("ansible-*.whl"))
            with zipfile.ZipFile(wheel) as archive:
                for member in archive.namelist():
                    if member.startswith("ansible_collections/kubernetes/core/"):
                        archive.extract(member, BENCH_COLLECTIONS)
    return str(BENCH_COLLECTIONS)
