"""The collection tarball as Galaxy receives it: the collection and nothing else, and accepted by galaxy-importer."""

import json
import re
import subprocess
import tarfile
from pathlib import Path

from conftest import GALAXY, LOCAL_STATE, REPO, checkout_files, tool_env

# Everything the tarball may hold. Anything else (tests, Makefile, requirements, dev configuration, reports,
# caches) is a packaging mistake.
ALLOWED = [
    r"MANIFEST\.json", r"FILES\.json", r"README\.md", r"LICENSE", r"CHANGELOG\.rst",
    r"changelogs/(changelog|config)\.yaml",
    r"meta/(runtime|execution-environment)\.yml", r"meta/ee-(requirements|bindep)\.txt",
    r"docs/[a-z_]+\.md",
    r"playbooks/[a-z_]+\.yml",
    r"plugins/(modules|module_utils|doc_fragments|inventory|filter|action|plugin_utils)/[a-z_0-9]+\.py",
    r"plugins/module_utils/[a-z_0-9]+/[a-z_0-9]+\.py", r"plugins/filter/[a-z_0-9]+\.yml",
    r"roles/[a-z_]+/README\.md",
    r"roles/[a-z_]+/(defaults|meta|tasks|handlers|vars)/[a-z_]+\.yml",
    r"roles/[a-z_]+/templates/[a-z_.]+\.j2",
]
NEVER = ["tests/", "extensions/", "exposure-reports/", "Makefile", "pytest.ini", "requirements.txt",
         "requirements-publish.txt", ".gitignore", ".ansible-lint", ".ci/", "docs/testing.md"]
# Content of the checkout the tarball must carry, whatever the allow-list of galaxy.yml says.
SHIPPED = re.compile(r"(plugins/.*\.py|roles/.*|playbooks/[a-z_]+\.yml|meta/.*|LICENSE|README\.md)$")


def tarball_files(tarball: Path) -> set[str]:
    with tarfile.open(tarball) as tar:
        return {member.name for member in tar.getmembers() if member.isfile()}


def test_the_tarball_holds_only_allowed_collection_files(built_tarball):
    unexpected = sorted(n for n in tarball_files(built_tarball) if not any(re.fullmatch(p, n) for p in ALLOWED))
    assert unexpected == []


def test_no_test_dev_file_or_local_state_ships(built_tarball):
    names = tarball_files(built_tarball)
    leaked = sorted(n for n in names if n in LOCAL_STATE or any(n == p or n.startswith(p) for p in NEVER))
    assert leaked == []


def test_every_module_plugin_role_file_and_playbook_of_the_checkout_ships(built_tarball):
    names = tarball_files(built_tarball)
    wanted = [n for n in checkout_files() if SHIPPED.match(n)]
    assert len(wanted) > 50
    assert sorted(set(wanted) - names) == []


def test_the_license_is_the_gpl_3_text_galaxy_yml_declares(built_tarball):
    with tarfile.open(built_tarball) as tar:
        shipped = tar.extractfile("LICENSE").read()
        manifest = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
    assert manifest["license"] == ["GPL-3.0-or-later"]
    # Debian's base-files ships the FSF text; the collection carries it unchanged.
    assert shipped == Path("/usr/share/common-licenses/GPL-3").read_bytes()


def test_metadata_urls_are_real_or_absent():
    for key in ("repository", "documentation", "homepage", "issues"):
        url = GALAXY.get(key)
        assert url is None or (url.startswith("https://") and not re.search(r"\.invalid\b|example\.", url)), key


def test_galaxy_importer_accepts_the_tarball_with_no_error_and_no_warning(built_tarball, publish_bin, tmp_path):
    """What Galaxy and Automation Hub run on upload: ansible-doc, ansible-lint and the changelog check."""
    config = REPO / "tests" / "publish" / "galaxy-importer.cfg"
    result = subprocess.run([str(publish_bin / "python"), "-m", "galaxy_importer.main", str(built_tarball)],
                            cwd=tmp_path, capture_output=True, text=True, check=False,
                            env=tool_env(publish_bin, GALAXY_IMPORTER_CONFIG=str(config)))
    output = result.stdout + result.stderr
    problems = [line for line in output.splitlines() if re.match(r"(WARNING|ERROR|CRITICAL)\b", line)]
    assert (result.returncode, problems) == (0, []), output
    assert "Linting collection via ansible-lint" in output, "ansible-lint did not run"
    assert "Importer processing completed successfully" in output

    imported = json.loads((tmp_path / "importer_result.json").read_text())
    roles = {c["name"] for c in imported["contents"] if c["content_type"] == "role"}
    assert roles == {p.name for p in (REPO / "roles").iterdir()}
    modules = {c["name"] for c in imported["contents"] if c["content_type"] == "module"}
    assert modules == {p.stem for p in (REPO / "plugins" / "modules").glob("*.py")}
