"""The collection as Galaxy and Ansible see it."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def test_the_action_group_covers_every_module():
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    # fleet_report talks to no cluster (it writes the fleet page on the controller): the group's module_defaults
    # (kubeconfig, context, expected_cluster) must not reach it.
    modules = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py")
                     if p.stem not in ("__init__", "fleet_report"))
    assert sorted(runtime["action_groups"]["all"]) == modules


def test_every_role_documents_its_arguments_with_prefixed_names():
    for role in (REPO / "roles").iterdir():
        specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]
        defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
        # secure_cluster_* names are collection-wide (the edge marker): every role reads the same variable.
        assert all(name.startswith((f"{role.name}_", "secure_cluster_")) for name in specs["options"]), role.name
        assert set(defaults) <= set(specs["options"]), f"{role.name}: undocumented defaults"


def pinned_ansible_core(requirements: str) -> list[str]:
    return re.findall(r"^ansible-core==([\d.]+)", (REPO / requirements).read_text(), re.M)


def matrix_releases() -> list[str]:
    """The ansible-core releases `make test` runs the collection on (tests/matrix/releases), oldest first."""
    lines = (REPO / "tests" / "matrix" / "releases").read_text().splitlines()
    return [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]


def test_requires_ansible_claims_the_range_the_matrix_tests():
    """The floor of the collection and of every role is the oldest release of the matrix; every pinned ansible-core
    (the default virtualenv, the publishing tools, the example execution environment) is a release of the matrix,
    and the newest one where the Python allows it."""
    releases = matrix_releases()
    oldest, newest = releases[0], releases[-1]
    minor = ".".join(oldest.split(".")[:2])
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert runtime["requires_ansible"] == f">={minor}.0"
    for meta in (REPO / "roles").glob("*/meta/main.yml"):
        assert yaml.safe_load(meta.read_text())["galaxy_info"]["min_ansible_version"] == minor, meta
    default = pinned_ansible_core("requirements.txt")
    assert default[0] == newest and set(default) <= set(releases)
    assert pinned_ansible_core("requirements-publish.txt") == [newest]
    ee = yaml.safe_load((REPO / "extensions" / "ee" / "execution-environment.yml").read_text())
    assert ee["dependencies"]["ansible_core"]["package_pip"] == f"ansible-core=={newest}"


def test_the_docs_state_the_range_the_matrix_tests():
    releases = matrix_releases()
    stated = f"ansible-core {'.'.join(releases[0].split('.')[:2])} to {'.'.join(releases[-1].split('.')[:2])}"
    for doc in ("README.md", "docs/testing.md"):
        assert stated in (REPO / doc).read_text(), f"{doc} does not say '{stated}'"


def test_the_edge_marker_is_written_out_only_where_it_is_owned():
    """One owner (module_utils/nodes/edge.py): roles, playbooks and templates read secure_cluster_edge_labels/_taints."""
    def code(path):
        return [line for line in path.read_text().splitlines() if not line.strip().startswith("#")]
    places = [p for pattern in ("roles/*/tasks/*.yml", "roles/*/defaults/*.yml", "roles/*/templates/*.j2",
                                "playbooks/*.yml", "plugins/module_utils/*.py", "plugins/module_utils/*/*.py")
              for p in REPO.glob(pattern) if p != REPO / "plugins/module_utils/nodes/edge.py" and any("dedicated" in line for line in code(p))]
    assert [str(p.relative_to(REPO)) for p in places] == []


def test_ansible_builder_introspect_finds_the_execution_environment_requirements(tmp_path):
    tree = tmp_path / "ansible_collections" / "containers_workload"
    tree.mkdir(parents=True)
    (tree / "secure_cluster").symlink_to(REPO)
    builder = Path(sys.executable).parent / "ansible-builder"
    if not builder.exists():
        pytest.skip("ansible-builder is a tool of the default virtualenv (requirements.txt), not of the matrix's")
    out = subprocess.run([str(builder), "introspect", str(tmp_path)], check=True, capture_output=True, text=True).stdout
    assert "kubernetes>=30.1.0  # from collection containers_workload.secure_cluster" in out
