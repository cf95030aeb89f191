"""Role READMEs (what Galaxy shows for each role) stay consistent with the roles' argument specs."""

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if p.is_dir())
SECTIONS = ["## Main variables", "## Example", "## Undo"]


def role_options(role: str) -> set[str]:
    specs = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return set(specs["argument_specs"]["main"]["options"])


def named_role_variables(text: str) -> set[str]:
    """Every word of the README that carries a role's prefix (`edge_nodes_selector`, ...)."""
    prefixes = "|".join(sorted(ROLES, key=len, reverse=True))
    return set(re.findall(rf"(?<![\w.*])(?:{prefixes})_[a-z0-9_]*[a-z0-9]\b", text))


def owner(variable: str) -> str:
    return max((r for r in ROLES if variable.startswith(f"{r}_")), key=len)


def literal(text: str):
    """A default as the README writes it: YAML, or a plain string YAML cannot read (`%any`)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def yaml_blocks(text: str) -> list:
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)]


@pytest.mark.parametrize("role", ROLES)
def test_the_role_has_a_readme_with_variables_example_and_undo(role):
    text = (REPO / "roles" / role / "README.md").read_text()
    assert text.startswith(f"# containers_workload.secure_cluster.{role}\n")
    assert [s for s in SECTIONS if s not in text] == []


@pytest.mark.parametrize("role", ROLES)
def test_every_variable_the_readme_names_is_in_the_argument_specs(role):
    text = (REPO / "roles" / role / "README.md").read_text()
    named = named_role_variables(text)
    assert {v for v in named if owner(v) == role}, "the README names none of the role's own variables"
    unknown = sorted(v for v in named if v not in role_options(owner(v)))
    assert unknown == []


@pytest.mark.parametrize("role", ROLES)
def test_the_readme_tables_give_the_defaults_of_the_argument_specs(role):
    """A table row `| `name` | `default` | ... |` with a literal default must say what the spec says."""
    specs = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    for name, default in re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", (REPO / "roles" / role / "README.md").read_text(),
                                    re.M):
        assert name in options, f"{name} is not in the argument specs"
        assert literal(default) == options[name].get("default"), name


@pytest.mark.parametrize("role", ROLES)
def test_the_example_play_parses_and_uses_collection_roles_and_modules_by_fqcn(role):
    text = (REPO / "roles" / role / "README.md").read_text()
    blocks = yaml_blocks(text)
    assert blocks, "no example play"
    modules = {p.stem for p in (REPO / "plugins" / "modules").glob("*.py")}
    examples = "\n".join(re.findall(r"```yaml\n(.*?)```", text, re.S))
    for fqcn in re.findall(r"containers_workload\.secure_cluster\.(\w+)", examples):
        assert fqcn in ROLES or fqcn in modules or fqcn == "all", fqcn
    plays = [play for block in blocks for play in block if "roles" in play]
    assert any(r["role"] == f"containers_workload.secure_cluster.{role}" for play in plays for r in play["roles"])


def test_secure_cluster_switches_named_in_readmes_are_read_by_the_playbooks_or_roles():
    readmes = "".join((REPO / "roles" / r / "README.md").read_text() for r in ROLES)
    sources = [*(REPO / "playbooks").glob("*.yml"), *(REPO / "roles").glob("*/defaults/main.yml")]
    used = "".join(p.read_text() for p in sources)
    unknown = sorted(v for v in set(re.findall(r"\bsecure_cluster_[a-z_]+\b", readmes)) if v not in used)
    assert unknown == []
