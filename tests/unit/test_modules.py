"""Every module is run the same way (the shared runner), and has no option that does nothing."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import errors

REPO = Path(__file__).resolve().parents[2]
# fleet_report is an action on the controller only: its module file holds the documentation, no main().
ACTION_ONLY = ("fleet_report",)
MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py")
                 if p.stem != "__init__" and p.stem not in ACTION_ONLY)
PACKAGE = "ansible_collections.containers_workload.secure_cluster.plugins"


def spec_of(module: str) -> dict:
    """The argument spec a module passes to run_module (its ARGUMENT_SPEC, or alb's shared ones)."""
    mod = importlib.import_module(f"{PACKAGE}.modules.{module}")
    if hasattr(mod, "ARGUMENT_SPEC"):
        return mod.ARGUMENT_SPEC
    alb = importlib.import_module(f"{PACKAGE}.module_utils.ibm.alb")
    return {"alb": alb.ALB_ARG_SPEC, "alb_info": alb.INFO_ARG_SPEC, "exposure_info": {}}.get(module, {})


def option_names(spec: dict) -> set[str]:
    names = set()
    for name, option in spec.items():
        names.add(name)
        names |= option_names(option.get("options") or {})
    return names


def sources_of(module: str) -> list[Path]:
    """The module's file, its action plugin (which may handle options itself) and every module_utils file they
    import, directly or not."""
    seen: list[Path] = []
    todo = [REPO / "plugins" / "modules" / f"{module}.py", REPO / "plugins" / "action" / f"{module}.py"]
    while todo:
        path = todo.pop()
        if path in seen or not path.exists():
            continue
        seen.append(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(f"{PACKAGE}.module_utils"):
                base = REPO / "plugins" / Path(*node.module.split(".")[4:])
                todo += [base.with_suffix(".py"), base / "__init__.py"]
                todo += [base / f"{alias.name}.py" for alias in node.names]
    return seen


def code_without_specs_and_docs(module: str) -> str:
    """The Python code a module runs, without argument-spec literals and documentation strings."""
    text = []
    for path in sources_of(module):
        source = path.read_text()
        tree = ast.parse(source)
        lines = source.splitlines()
        drop = set()
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and (t.id.endswith("ARG_SPEC") or t.id in (
                        "ARGUMENT_SPEC", "DOCUMENTATION", "EXAMPLES", "RETURN")) for t in node.targets):
                drop.update(range(node.lineno - 1, node.end_lineno))
        text.append("\n".join(line for number, line in enumerate(lines) if number not in drop))
    return "\n".join(text)


@pytest.mark.parametrize("module", MODULES)
def test_every_option_of_a_module_is_read_somewhere(module):
    code = code_without_specs_and_docs(module)
    # read as params["name"], params.get("name"), or by a loop over option names: for option in ("name", ...)
    loops = "\n".join(line for line in code.splitlines() if re.match(r"\s*for \w+ in \(", line))
    unread = sorted(name for name in option_names(spec_of(module))
                    if not re.search(rf"""(\[["']{re.escape(name)}["']\]|\.get\(["']{re.escape(name)}["'])""", code)
                    and f'"{name}"' not in loops)
    assert unread == [], f"{module}: options read nowhere: {unread}"


@pytest.mark.parametrize("module", MODULES)
def test_every_module_main_is_the_shared_runner(module):
    source = (REPO / "plugins" / "modules" / f"{module}.py").read_text()
    main = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "main")
    assert len(main.body) == 1 and "run_module(" in ast.unparse(main.body[0]), module
    assert f'run_module("{module}"' in source


def test_every_collection_error_belongs_to_the_one_family():
    found = []
    for path in (REPO / "plugins" / "module_utils").rglob("*.py"):
        module = ".".join(path.relative_to(REPO / "plugins").with_suffix("").parts)
        mod = importlib.import_module(f"{PACKAGE}.{module}".removesuffix(".__init__"))
        found += [obj for obj in vars(mod).values()
                  if isinstance(obj, type) and issubclass(obj, Exception) and obj.__module__ == mod.__name__]
    assert len(found) >= 8
    assert all(issubclass(cls, errors.SecureClusterError) for cls in found), found
    assert len({cls.__name__ for cls in found}) == len(found), "two error classes share a name"


def test_validation_collects_every_problem_before_raising_once():
    with pytest.raises(errors.InvalidInput) as raised:
        errors.raise_if(["first problem", "second problem"])
    assert raised.value.errors == ["first problem", "second problem"]
    assert str(raised.value) == "first problem; second problem"
    errors.raise_if([])


def test_a_partial_result_travels_with_the_error():
    error = errors.SecureClusterError("half done", {"changed": True, "resources": [{"name": "a"}]})
    assert error.result["resources"] == [{"name": "a"}] and str(error) == "half done"
