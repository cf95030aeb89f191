"""The example execution environment builds without Galaxy: `ansible-builder create` on extensions/ee with the
collection tarball in the build context, and the context's galaxy step run as the Containerfile runs it."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, clean_env

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def context(built_tarball, tmp_path_factory) -> Path:
    """`ansible-builder create` with the layout of a checkout after `make build` (what `make ee` does)."""
    root = tmp_path_factory.mktemp("ee")
    (root / "extensions" / "ee").mkdir(parents=True)
    shutil.copy(REPO / "extensions" / "ee" / "execution-environment.yml", root / "extensions" / "ee")
    (root / ".build" / "ee-collection").mkdir(parents=True)
    shutil.copy(built_tarball, root / ".build" / "ee-collection" / "containers_workload-secure_cluster.tar.gz")
    subprocess.run([str(BIN / "ansible-builder"), "create", "-f", str(root / "extensions/ee/execution-environment.yml"),
                    "-c", str(root / "context"), "--output-filename", "Containerfile"],
                   check=True, capture_output=True, text=True, env=clean_env())
    return root / "context"


def test_the_collection_tarball_is_in_the_build_context(context, built_tarball):
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert requirements["collections"] == [{"name": "collection/containers_workload-secure_cluster.tar.gz",
                                            "type": "file"}]
    assert (context / "_build/collection/containers_workload-secure_cluster.tar.gz").read_bytes() == \
        built_tarball.read_bytes()


def test_the_containerfile_installs_it_offline_then_introspects_its_requirements(context):
    containerfile = (context / "Containerfile").read_text()
    assert 'ARG ANSIBLE_GALAXY_CLI_COLLECTION_OPTS="--offline"' in containerfile
    assert re.search(r"COPY _build /build\nWORKDIR /build\n", containerfile)
    assert re.search(r"ansible-galaxy collection install \$ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml",
                     containerfile)
    assert "introspect.py introspect --write-bindep=/tmp/src/bindep.txt --write-pip=/tmp/src/requirements.txt" \
        in containerfile
    definition = yaml.safe_load((REPO / "extensions" / "ee" / "execution-environment.yml").read_text())
    assert definition["dependencies"]["ansible_core"]["package_pip"] in containerfile


def test_the_galaxy_step_installs_the_collection_from_the_context_and_its_python_requirements_follow(context, tmp_path):
    """The galaxy stage's command, run in a copy of /build (the context's _build), and then the introspection
    the builder stage runs on what it installed."""
    build = shutil.copytree(context / "_build", tmp_path / "build")
    installed = tmp_path / "collections"
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-r", "requirements.yml",
                    "--collections-path", str(installed)], cwd=build, check=True, capture_output=True, env=clean_env())
    manifest = installed / "ansible_collections/containers_workload/secure_cluster/MANIFEST.json"
    assert manifest.exists()
    deps = subprocess.run([str(BIN / "ansible-builder"), "introspect", str(installed)], check=True,
                          capture_output=True, text=True, env=clean_env()).stdout
    python = yaml.safe_load(deps.split("\n", 1)[1])["python"]
    assert "kubernetes>=30.1.0  # from collection containers_workload.secure_cluster" in python
    assert "jmespath>=1.0  # from collection containers_workload.secure_cluster" in python
