"""The pattern's declaration of its steps (roles/containers_workload_pattern/vars/main.yml) against the roles:
the fleet page reads the declaration, so a register renamed, a step added or a tag dropped in a role fails here
instead of showing "not run" or naming the wrong failed step."""

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.containers_workload.secure_cluster.plugins.plugin_utils import fleet

REPO = Path(__file__).resolve().parents[2]
PATTERN = REPO / "roles" / "containers_workload_pattern"
PREFIX = "containers_workload.secure_cluster."


def load(path: Path):
    return yaml.safe_load(path.read_text()) or []


def tasks_of(role: str, entry: str = "main.yml"):
    """(file, task, tags) of every task the role's entry point runs, with the tags it carries: its own,
    those of the import_tasks that imports it (inherited), those an include_tasks applies."""
    def walk(path, inherited):
        for task in load(path):
            tags = inherited | set(task.get("tags") or [])
            assert "block" not in task, "a block: follow its tasks here"
            imported = task.get("ansible.builtin.import_tasks")
            included = task.get("ansible.builtin.include_tasks")
            if imported:
                yield from walk(path.parent / imported, tags)
            elif included:
                include = included if isinstance(included, dict) else {"file": included}
                applied = inherited | set(include.get("apply", {}).get("tags", []))
                # A file chosen by a template: every file it can choose.
                for name in re.findall(r"[\w.-]+\.yml", include["file"]):
                    yield from walk(path.parent / name, applied)
            else:
                yield path.name, task, tags

    yield from walk(REPO / "roles" / role / "tasks" / entry, set())


def included_roles(task_file: str) -> list[tuple[str, str]]:
    """(role, when) of each include_role of the pattern's task file, in order."""
    out = []
    for task in load(PATTERN / "tasks" / task_file):
        include = task.get("ansible.builtin.include_role")
        if include:
            out.append((include["name"].removeprefix(PREFIX), task.get("when")))
    return out


def test_the_fleet_page_reads_the_declaration_the_role_reads():
    declared = load(PATTERN / "vars" / "main.yml")["_containers_workload_pattern_steps"]
    assert list(fleet.DECLARED) == declared
    assert [s["step"] for s in fleet.STEPS] == [s["step"] for s in declared if s["step"] != "exposure_report"]


def test_every_step_the_pattern_takes_is_declared_with_its_switch_in_the_safe_order_and_reversed():
    switches = {s["step"]: s["switch"] for s in fleet.STEPS}
    present, absent = included_roles("present.yml"), included_roles("absent.yml")
    assert [role for role, unused in present] == list(switches)
    assert [role for role, unused in absent] == list(reversed(switches))
    for role, when in present + absent:
        assert when == f"{switches[role]} | bool", role


def test_each_switch_defaults_to_what_the_user_sets():
    defaults = load(PATTERN / "defaults" / "main.yml")
    for step in fleet.DECLARED:
        assert step["switch"] in defaults, step["step"]
        assert step["set_by"] == step["switch"] or step["set_by"] in str(defaults[step["switch"]]), step["step"]


@pytest.mark.parametrize("step", fleet.STEPS, ids=lambda s: s["step"])
def test_each_declared_register_is_registered_by_the_step_and_no_other(step):
    registered = {task["register"] for unused, task, unused_tags in tasks_of(step["step"]) if "register" in task}
    assert set(step["registers"]) <= registered
    for other in fleet.DECLARED:
        if other is not step:
            mine = {t.get("register") for unused, t, unused_tags in tasks_of(other["step"])}
            assert not set(step["registers"]) & mine, other["step"]


@pytest.mark.parametrize("step", fleet.DECLARED, ids=lambda s: s["step"])
def test_each_task_of_a_step_carries_its_tag_so_a_failure_names_the_step(step):
    for name, task, tags in tasks_of(step["step"]):
        if "always" in tags:
            continue  # a task of every run (the audit's own tail, set_fact of what it found): no step's
        assert step["step"] in tags, (name, task.get("name"))
        assert fleet.failed_step({"step": "", "tags": sorted(tags)}) == step["step"], (name, task.get("name"))
