"""The collection as Galaxy and Ansible see it."""

import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_the_action_group_covers_every_module():
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    modules = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
    assert sorted(runtime["action_groups"]["all"]) == modules


def test_every_role_documents_its_arguments_with_prefixed_names():
    for role in (REPO / "roles").iterdir():
        specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]
        defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
        # secure_cluster_* names are collection-wide (the edge marker): every role reads the same variable.
        assert all(name.startswith((f"{role.name}_", "secure_cluster_")) for name in specs["options"]), role.name
        assert set(defaults) <= set(specs["options"]), f"{role.name}: undocumented defaults"


def pinned_ansible_core(requirements: str) -> str:
    return re.search(r"^ansible-core==([\d.]+)$", (REPO / requirements).read_text(), re.M).group(1)


def test_requires_ansible_claims_only_the_ansible_core_ci_runs():
    """CI runs one ansible-core (requirements.txt): the floor is that minor version, for the collection and
    every role; the publishing tools and the example execution environment use the same release."""
    tested = pinned_ansible_core("requirements.txt")
    minor = ".".join(tested.split(".")[:2])
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert runtime["requires_ansible"] == f">={minor}.0"
    for meta in (REPO / "roles").glob("*/meta/main.yml"):
        assert yaml.safe_load(meta.read_text())["galaxy_info"]["min_ansible_version"] == minor, meta
    assert pinned_ansible_core("requirements-publish.txt") == tested
    ee = yaml.safe_load((REPO / "extensions" / "ee" / "execution-environment.yml").read_text())
    assert ee["dependencies"]["ansible_core"]["package_pip"] == f"ansible-core=={tested}"


def test_the_edge_marker_is_written_out_only_where_it_is_owned():
    """One owner (module_utils/edge_nodes.py): roles, playbooks and templates read secure_cluster_edge_labels/_taints."""
    def code(path):
        return [line for line in path.read_text().splitlines() if not line.strip().startswith("#")]
    places = [p for pattern in ("roles/*/tasks/*.yml", "roles/*/defaults/*.yml", "roles/*/templates/*.j2",
                                "playbooks/*.yml", "plugins/module_utils/*.py", "plugins/module_utils/*/*.py")
              for p in REPO.glob(pattern) if p.name != "edge_nodes.py" and any("dedicated" in line for line in code(p))]
    assert [str(p.relative_to(REPO)) for p in places] == []


def test_ansible_builder_introspect_finds_the_execution_environment_requirements(tmp_path):
    tree = tmp_path / "ansible_collections" / "containers_workload"
    tree.mkdir(parents=True)
    (tree / "secure_cluster").symlink_to(REPO)
    builder = Path(sys.executable).parent / "ansible-builder"
    out = subprocess.run([str(builder), "introspect", str(tmp_path)], check=True, capture_output=True, text=True).stdout
    assert "kubernetes>=30.1.0  # from collection containers_workload.secure_cluster" in out
