"""A stand-in for calicoctl in tests that replays ONLY what a real calicoctl v3.28.5 was recorded doing
(../shared/calicoctl/transcripts.jsonl beside the checkout, or $SECURE_CLUSTER_CALICOCTL_TRANSCRIPTS).

A test names a *scenario*: the recorded runs, in order, that the code under test must make. Each invocation must
be the next recorded run exactly: the same argv, the same DATASTORE_TYPE / KUBECONFIG / ETCD_ENDPOINTS, the same
``--config`` file text and the same stdin (compared as the YAML documents calicoctl parses, so key order and
quoting do not matter). Then it prints the recorded stdout and stderr and exits with the recorded code (a run
recorded as still going after 30 s sleeps). Anything else is written to the scenario's log and exits 97 with
"UNRECORDED calicoctl invocation": the fixture fails the test on any such line, and when recorded runs of the
scenario were left unused. Nothing is ever made up.

Placeholders of the recordings (``<kubeconfig>``, ``<dir>``, ``<etcd>``) are mapped to the test's own paths; a
KUBECONFIG other than the one mapped matches when its current context reaches the same API server.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path

# The shared folder beside the checkout (CI has it there too).
DEFAULT_TRANSCRIPTS = Path(__file__).resolve().parents[3] / "shared" / "calicoctl" / "transcripts.jsonl"
ENV_KEYS = ("DATASTORE_TYPE", "KUBECONFIG", "ETCD_ENDPOINTS")
UNRECORDED = 97


def transcripts_path() -> Path:
    return Path(os.environ.get("SECURE_CLUSTER_CALICOCTL_TRANSCRIPTS") or DEFAULT_TRANSCRIPTS)


def load_transcripts() -> dict[str, dict]:
    """The recorded runs by name."""
    with open(transcripts_path(), encoding="utf-8") as handle:
        runs = [json.loads(line) for line in handle if line.strip()]
    return {run["name"]: run for run in runs}


def substitute(value, placeholders: dict):
    if isinstance(value, str):
        for placeholder, real in placeholders.items():
            value = value.replace(placeholder, real)
        return value
    if isinstance(value, list):
        return [substitute(v, placeholders) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, placeholders) for k, v in value.items()}
    return value


def documents(text: str | None):
    import yaml

    if not text:
        return None
    try:
        return list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return text  # a recorded syntax error is compared as text


def config_text(argv: list[str]) -> str | None:
    for index, arg in enumerate(argv):
        if arg in ("--config", "-c") and index + 1 < len(argv):
            try:
                return Path(argv[index + 1]).read_text(encoding="utf-8")
            except OSError as exc:
                return f"<unreadable: {exc}>"
    return None


def server_of(path: str | None) -> str | None:
    """The API server of a kubeconfig's current context, or None when the file names none."""
    import yaml

    try:
        with open(path or "", encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        context = next(c["context"] for c in data["contexts"] if c["name"] == data["current-context"])
        return next(c["cluster"]["server"] for c in data["clusters"] if c["name"] == context["cluster"]).rstrip("/")
    except (OSError, yaml.YAMLError, KeyError, TypeError, StopIteration, AttributeError):
        return None


def same_cluster(given: str | None, recorded: str | None) -> bool:
    """A kubeconfig other than the recorded one is that run when it reaches the same API server (the module
    writes calicoctl's kubeconfig from its own connection: a file of its own, whose path a recording cannot know)."""
    server = server_of(recorded)
    return server is not None and server_of(given) == server


def differences(run: dict, argv: list[str], env: dict, stdin: str, placeholders: dict) -> list[str]:
    """How this invocation differs from the recorded run (nothing when it is that run)."""
    out = []
    recorded_argv = substitute(run["argv"][1:], placeholders)
    if argv != recorded_argv:
        out.append(f"argv {argv} != recorded {recorded_argv}")
    recorded_env = substitute(run.get("env") or {}, placeholders)
    for key in ENV_KEYS:
        given, recorded = env.get(key), recorded_env.get(key)
        if given != recorded and not (key == "KUBECONFIG" and same_cluster(given, recorded)):
            out.append(f"env {key}={env.get(key)!r} != recorded {recorded_env.get(key)!r}")
    if run.get("config") is not None and config_text(argv) != substitute(run["config"], placeholders):
        out.append(f"config {config_text(argv)!r} != recorded {substitute(run['config'], placeholders)!r}")
    if documents(stdin) != documents(substitute(run.get("stdin"), placeholders)):
        out.append(f"stdin {stdin!r} != recorded {run.get('stdin')!r}")
    return out


def main() -> int:
    scenario_path = Path(os.environ["CALICOCTL_REPLAY_SCENARIO"])
    scenario = json.loads(scenario_path.read_text(encoding="utf-8"))
    placeholders = scenario["placeholders"]
    position_file = Path(scenario["position"])
    position = int(position_file.read_text() or 0) if position_file.exists() else 0
    argv = sys.argv[1:]
    # Like calicoctl, read stdin only for `-f -`.
    reads_stdin = any(a in ("-f", "--filename") and b == "-" for a, b in zip(argv, argv[1:]))
    stdin = sys.stdin.read() if reads_stdin and sys.stdin is not None else ""
    steps = scenario["steps"]

    def unrecorded(why: list[str]) -> int:
        with open(scenario["log"], "a", encoding="utf-8") as log:
            log.write(json.dumps({"argv": argv, "position": position, "why": why}) + "\n")
        sys.stderr.write(f"UNRECORDED calicoctl invocation {argv}: {'; '.join(why)}\n")
        return UNRECORDED

    if position >= len(steps):
        return unrecorded([f"the scenario's {len(steps)} recorded runs are used up"])
    run = load_transcripts()[steps[position]]
    why = differences(run, argv, dict(os.environ), stdin, placeholders)
    if why:
        return unrecorded([f"expected recorded run {run['name']!r}"] + why)
    position_file.write_text(str(position + 1))
    if run["rc"] is None:
        time.sleep(3600)
        return 1
    sys.stdout.write(substitute(run["stdout"] or "", placeholders))
    sys.stderr.write(substitute(run["stderr"] or "", placeholders))
    return run["rc"]


def install(directory: Path) -> Path:
    """An executable ``calicoctl`` in ``directory`` that runs this replay with the current Python."""
    directory.mkdir(parents=True, exist_ok=True)
    binary = directory / "calicoctl"
    binary.write_text(f"#!{sys.executable}\nimport runpy, sys\nsys.argv[0] = {str(Path(__file__))!r}\n"
                      f"runpy.run_path({str(Path(__file__))!r}, run_name='__main__')\n", encoding="utf-8")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


def run_command(args, data=None, environ_update=None, expand_user_and_vars=True, before_communicate_callback=None):
    """AnsibleModule.run_command's contract, for unit tests without a module: (rc, stdout, stderr); the
    environment is this process's with ``environ_update``; ``data`` (plus a newline, as run_command sends it)
    on stdin; the callback gets the process before it is waited for."""
    import subprocess

    env = {**os.environ, **(environ_update or {})}
    process = subprocess.Popen(args, stdin=subprocess.PIPE if data else subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env, text=True)
    if before_communicate_callback:
        before_communicate_callback(process)
    out, err = process.communicate((data + "\n") if data else None)
    return process.returncode, out, err


class Replay:
    """One scenario: ``calicoctl`` is the executable, ``env`` what the process under test needs to find the
    scenario, and :meth:`check` fails on any unrecorded invocation and on recorded runs left unused."""

    def __init__(self, directory: Path, placeholders: dict):
        self.directory = directory
        self.calicoctl = str(install(directory / "bin"))
        self.placeholders = placeholders
        self.scenario = directory / "scenario.json"
        self.log = directory / "unrecorded.jsonl"
        self.position = directory / "position"
        self.steps: list[str] = []
        self.transcripts = load_transcripts()

    @property
    def env(self) -> dict:
        return {"CALICOCTL_REPLAY_SCENARIO": str(self.scenario)}

    def expect(self, *names: str) -> None:
        """The recorded runs (by name) the next calicoctl invocations must be, in order."""
        for name in names:
            if name not in self.transcripts:
                raise KeyError(f"no recorded calicoctl run named {name!r} in {transcripts_path()}")
        self.steps = list(names)
        self.position.write_text("0")
        self.scenario.write_text(json.dumps({"steps": self.steps, "placeholders": self.placeholders,
                                             "position": str(self.position), "log": str(self.log)}))

    def unrecorded(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def used(self) -> int:
        return int(self.position.read_text() or 0) if self.position.exists() else 0

    def check(self) -> None:
        """Fail loudly on an unrecorded invocation, or on recorded runs the code did not make."""
        bad = self.unrecorded()
        assert not bad, f"calicoctl was called in a way that was never recorded: {bad}"
        assert self.used() == len(self.steps), (
            f"expected calicoctl runs {self.steps}, but only the first {self.used()} were made")


if __name__ == "__main__":
    sys.exit(main())
