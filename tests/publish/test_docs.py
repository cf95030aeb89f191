"""The collection's docs as antsibull-docs sees them: lint clean, and an HTML page per module, plugin and role."""

import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, copy_checkout, tool_env


def test_antsibull_docs_lint_finds_nothing_in_plugin_role_and_extra_docs(publish_bin, tmp_path):
    tree = copy_checkout(tmp_path / "ansible_collections" / "containers_workload" / "secure_cluster")
    result = subprocess.run(
        [str(publish_bin / "antsibull-docs"), "lint-collection-docs", "--plugin-docs", "--check-extra-docs-refs",
         "--validate-collection-refs", "all", "--disallow-unknown-collection-refs", str(tree)],
        capture_output=True, text=True, check=False, env=tool_env(publish_bin, ANSIBLE_COLLECTIONS_PATH=str(tmp_path)))
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_make_docs_built_a_page_for_every_module_plugin_and_role():
    html = Path(os.environ.get("DOCS", REPO / ".build" / "docs")) / "build" / "html"
    if not (html / "index.html").exists():
        pytest.fail(f"no docs site in {html}: run `make docs`")
    wanted = [f"{p.stem}_module.html" for p in (REPO / "plugins" / "modules").glob("*.py")]
    wanted += [f"{p.stem}_inventory.html" for p in (REPO / "plugins" / "inventory").glob("*.py")]
    wanted += [f"{p.name}_role.html" for p in (REPO / "roles").iterdir()]
    assert sorted(w for w in wanted if not (html / w).exists()) == []
    index = (html / "index.html").read_text()
    assert sorted(w for w in wanted if f'href="{w}' not in index) == []
