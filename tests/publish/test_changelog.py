"""The changelog: fragments lint clean and `antsibull-changelog release` works, in a throwaway copy."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import GALAXY, REPO, copy_checkout, tool_env


def run(publish_bin: Path, args: list[str], cwd: Path, collections: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(publish_bin / "antsibull-changelog"), *args], cwd=cwd, capture_output=True, text=True,
                          check=False, env=tool_env(publish_bin, ANSIBLE_COLLECTIONS_PATH=str(collections)))


@pytest.fixture(scope="module")
def released(tmp_path_factory, publish_bin):
    """A copy of the checkout after `antsibull-changelog release` of galaxy.yml's version (or the next patch
    version, once that one is released), with what the copy looked like before."""
    root = tmp_path_factory.mktemp("release")
    tree = copy_checkout(root / "ansible_collections" / "containers_workload" / "secure_cluster")
    before = yaml.safe_load((tree / "changelogs" / "changelog.yaml").read_text())
    version = GALAXY["version"]
    if version in (before.get("releases") or {}):
        major, minor, patch = version.split(".")
        version = f"{major}.{minor}.{int(patch) + 1}"
    fragments = {p.name: yaml.safe_load(p.read_text()) for p in (tree / "changelogs" / "fragments").glob("*.y*ml")}
    result = run(publish_bin, ["release", "--version", version, "--date", "2026-01-01"], tree, root)
    assert result.returncode == 0, result.stdout + result.stderr
    after = yaml.safe_load((tree / "changelogs" / "changelog.yaml").read_text())
    return {"tree": tree, "root": root, "version": version, "fragments": fragments,
            "release": after["releases"][version], "changelog": after, "rst": (tree / "CHANGELOG.rst").read_text()}


def test_the_fragments_lint_clean(publish_bin, tmp_path):
    tree = copy_checkout(tmp_path / "ansible_collections" / "containers_workload" / "secure_cluster")
    result = run(publish_bin, ["lint"], tree, tmp_path)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_release_consumes_every_fragment(released):
    """Every fragment's entries land in the release and the fragment is gone (right after a release there may
    be none: the next release is then empty, and still cut cleanly)."""
    assert sorted(p.name for p in (released["tree"] / "changelogs" / "fragments").iterdir()) == [".keep"]
    assert f"v{released['version']}\n" in released["rst"]
    changes = released["release"].get("changes") or {}
    for name, fragment in released["fragments"].items():
        for section, entries in (fragment or {}).items():
            if isinstance(entries, list) and not section.startswith("add "):
                assert all(entry in changes.get(section, []) for entry in entries), (name, section)


def test_every_module_plugin_and_role_is_announced_in_a_release(released):
    releases = released["changelog"]["releases"].values()
    modules = {m["name"] for r in releases for m in r.get("modules", [])}
    plugins = {p["name"] for r in releases for kind in r.get("plugins", {}).values() for p in kind}
    roles = {o["name"] for r in releases for o in r.get("objects", {}).get("role", [])}
    assert modules == {p.stem for p in (REPO / "plugins" / "modules").glob("*.py")}
    assert {p.stem for p in (REPO / "plugins" / "inventory").glob("*.py")} <= plugins
    assert roles == {p.name for p in (REPO / "roles").iterdir()}


def test_no_fragment_repeats_a_module_plugin_or_role_the_release_lists_as_new(released):
    release = released["release"]
    new = {m["name"] for m in release.get("modules", [])}
    new |= {p["name"] for kind in release.get("plugins", {}).values() for p in kind}
    new |= {o["name"] for kinds in release.get("objects", {}).values() for o in kinds}
    entries = [entry for section, items in release.get("changes", {}).items() if isinstance(items, list)
               for entry in items]
    repeated = [e for e in entries if (m := re.match(r"([\w ,]+?) - ", e)) and
                {n.strip() for n in m.group(1).split(",")} & new]
    assert repeated == []


def test_the_released_changelog_yaml_lints_clean(released, publish_bin):
    result = run(publish_bin, ["lint-changelog-yaml", "changelogs/changelog.yaml"], released["tree"],
                 released["root"])
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
