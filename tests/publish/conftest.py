"""Fixtures for the publishing checks: the tools of requirements-publish.txt and a tarball built like a release."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text())

# What a checkout accumulates and must never ship: `make demo` reports, caches, virtualenvs, test output,
# old tarballs, an editor's swap file, galaxy-importer's result file.
LOCAL_STATE = [
    "exposure-reports/local-demo-after.html",
    "exposure-reports/local-demo-after.md",
    ".pytest_cache/v/cache/lastfailed",
    ".ansible/collections/ansible_collections/x/y/galaxy.yml",
    ".venv/bin/python",
    ".clusters/demo/env",
    ".build/publish-venv/bin/python",
    "tests/output/junit/sanity.xml",
    "plugins/modules/__pycache__/edge_nodes.cpython-311.pyc",
    "roles/edge_nodes/tasks/.main.yml.swp",
    "importer_result.json",
    f"containers_workload-secure_cluster-{GALAXY['version']}.tar.gz",
]


def checkout_files() -> list[str]:
    """Files of the checkout as git sees them (tracked, plus new files not ignored), that exist."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         check=True, capture_output=True).stdout.decode()
    return sorted(name for name in set(out.split("\0")) if name and (REPO / name).is_file())


def copy_checkout(dest: Path) -> Path:
    """Copy the checkout's files (no .git, no local state) to dest."""
    for name in checkout_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    return dest


@pytest.fixture(scope="session")
def publish_bin() -> Path:
    """bin/ of the virtualenv `make publish-venv` creates from requirements-publish.txt."""
    venv = Path(os.environ.get("PUBLISH_VENV", REPO / ".build" / "publish-venv"))
    if not (venv / ".installed").exists():
        pytest.fail(f"no publishing tools in {venv}: run `make publish-venv` (or `make publish-check`)")
    return venv / "bin"


def clean_env(**extra: str) -> dict:
    """The environment without the ANSIBLE_* of the dev setup (its collections path holds this checkout)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(extra)
    return env


def tool_env(publish_bin: Path, **extra: str) -> dict:
    """Environment for the publishing tools: their virtualenv first on PATH, no ANSIBLE_* of the dev setup."""
    return clean_env(PATH=f"{publish_bin}{os.pathsep}{os.environ['PATH']}", **extra)


@pytest.fixture(scope="session")
def built_tarball(tmp_path_factory) -> Path:
    """`ansible-galaxy collection build` of a copy of this checkout that also holds typical local state."""
    tree = copy_checkout(tmp_path_factory.mktemp("checkout") / "secure_cluster")
    for name in LOCAL_STATE:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("local state\n")
    out = tmp_path_factory.mktemp("dist")
    galaxy = Path(sys.executable).parent / "ansible-galaxy"
    subprocess.run([str(galaxy), "collection", "build", "--output-path", str(out), str(tree)], check=True,
                   capture_output=True, env=clean_env())
    return out / f"containers_workload-secure_cluster-{GALAXY['version']}.tar.gz"
