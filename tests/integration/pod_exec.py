"""Run a container of a pod spec read from the cluster, the way a kubelet would, without a container engine.

The container's ``command``/``args`` run in a network namespace (the pod's network, or the node's for
``hostNetwork``) and in a private mount namespace where each ``volumeMount`` is bind-mounted at its
``mountPath`` from the ConfigMap or Secret data the cluster holds (``items``, ``subPath`` and ``defaultMode``
honoured). ``env`` comes from the spec; ``fieldRef`` values are supplied by the caller, as the kubelet would
(``status.podIP``). What the image itself contributes (files under /etc, the location of binaries) is set up
by the caller through ``image_mounts``: (source, target) bind mounts done before the volumes.
Processes are ended by pid.
"""

from __future__ import annotations

import base64
import os
import shlex
import signal
import subprocess
from pathlib import Path

IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def volume_files(pod_spec: dict, mount: dict, configmaps: dict, secrets: dict, workdir: Path) -> Path:
    """Materialise the volume behind ``mount`` under ``workdir``; returns the path to bind at its mountPath."""
    volume = next(v for v in pod_spec["volumes"] if v["name"] == mount["name"])
    if "configMap" in volume:
        source, data, mode = volume["configMap"], configmaps[volume["configMap"]["name"]]["data"], 0o644
    elif "secret" in volume:
        source = volume["secret"]
        data = {k: base64.b64decode(v).decode() for k, v in secrets[source["secretName"]]["data"].items()}
        mode = 0o644
    else:
        raise AssertionError(f"volume {volume['name']} is neither a ConfigMap nor a Secret: {volume}")
    mode = source.get("defaultMode", mode)
    items = source.get("items") or [{"key": k, "path": k} for k in data]
    root = workdir / f"vol-{volume['name']}"
    if not root.exists():
        root.mkdir(parents=True)
        for item in items:
            path = root / item["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(data[item["key"]])
            path.chmod(item.get("mode", mode))
    return root / mount["subPath"] if mount.get("subPath") else root


def container_env(container: dict, field_refs: dict) -> dict:
    env = {"PATH": IMAGE_PATH, "HOME": "/root"}
    for var in container.get("env") or []:
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            env[var["name"]] = field_refs[var["valueFrom"]["fieldRef"]["fieldPath"]]
    return env


class Container:
    """One running container: its pid (the command itself, after exec), its log file (stdout and stderr)."""

    def __init__(self, netns: str, pod_spec: dict, container: dict, configmaps: dict, secrets: dict,
                 workdir: Path, field_refs: dict, image_mounts: list[tuple[str, str]], name: str):
        self.log = workdir / f"{name}.log"
        self.env = container_env(container, field_refs)
        binds = list(image_mounts)
        for mount in container.get("volumeMounts") or []:
            binds.append((str(volume_files(pod_spec, mount, configmaps, secrets, workdir)), mount["mountPath"]))
        setup = ["set -e", "mount --make-rprivate /", "mount -t tmpfs tmpfs /run", "mkdir -p /run/strongswan"]
        for source, target in binds:
            # Mount points must exist (in the image tree the caller mounted): nothing is created on the host.
            setup.append(f"[ -e {shlex.quote(target)} ] || {{ echo 'no mount point {target}' >&2; exit 1; }}")
            setup.append(f"mount --bind {shlex.quote(source)} {shlex.quote(target)}")
        setup.append('exec "$@"')
        argv = (container.get("command") or []) + (container.get("args") or [])
        assert argv, f"container {container['name']} has no command: the image has no CMD to fall back on"
        self.argv = argv
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                ["ip", "netns", "exec", netns, "unshare", "-m", "sh", "-c", "\n".join(setup), "container", *argv],
                stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        self.pid = self.process.pid

    def exec(self, argv: list[str], timeout: float = 20) -> subprocess.CompletedProcess:
        """Run a command in the container (its network and mount namespaces), like an exec probe."""
        return subprocess.run(["nsenter", "-t", str(self.pid), "-m", "-n", "--", *argv], capture_output=True,
                              text=True, env=self.env, timeout=timeout, check=False)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, as the kubelet does, then SIGKILL after the grace period."""
        if self.process.poll() is not None:
            return
        os.kill(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.process.wait(5)
