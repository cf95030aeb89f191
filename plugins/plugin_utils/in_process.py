# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the collection's modules inside the controller's Python when they would run there anyway.

The collection's modules talk to APIs (Kubernetes, IBM Cloud), so they run on the controller (``connection:
local``). Ansible still starts a new Python for each run and ships it the module as a zip: about 0.3 s of
controller CPU per run on a 2-core machine, more than most of these modules spend working. When the task runs
locally, with ``ansible_python_interpreter`` unset or the controller's own interpreter (an unset one is not
discovered: the controller's is used), without become, async or a task environment, the action plugin of each
module runs the module in its worker process instead: the same module code, arguments, check mode, diff and
no_log handling, the same JSON result, without the new interpreter. Anything else (another interpreter, a remote
connection, ``secure_cluster_in_process: false``) runs the module the usual way.

Two runners, as ansible-core's own AnsiballZ wrapper runs a module on each release: from 2.19 its
``_ansiballz._loader.run_module``; on 2.16 to 2.18 what that release's wrapper does itself (the JSON arguments in
``basic._ANSIBLE_ARGS``, then ``runpy`` runs the module as ``__main__``), and the result wrapped as unsafe, as
``_execute_module`` of those releases returns it.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import json
import os
import runpy
import sys
import traceback

import ansible
from ansible.module_utils.common import warnings as module_warnings
from ansible.module_utils.common.validation import check_type_bool
from ansible.plugins.action.normal import ActionModule as NormalAction
from ansible.release import __version__ as ANSIBLE_VERSION
from ansible.utils.display import Display

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import journal

# Releases whose internals the in-process run is built on and tested with (the matrix of `make test`). On any
# other release the modules run the usual way, and -vvv says why: a new release can make runs slower, never
# break them.
WRAPPED = ((2, 16), (2, 17), (2, 18))  # the wrapper's own runpy call; the loader from 2.19
PROVEN = WRAPPED + ((2, 19), (2, 20), (2, 21))
RELEASE = tuple(int(part) for part in ANSIBLE_VERSION.split(".")[:2])

# ansible-core's own module runner and what it reads, all private names: each import is guarded, and a release
# without one of them runs the modules the usual way.
try:
    _CLEAR = (module_warnings._global_warnings.clear,  # pylint: disable=protected-access
              module_warnings._global_deprecations.clear)  # pylint: disable=protected-access
except AttributeError as exc:  # pragma: no cover - another ansible-core
    _CLEAR = ()
    MISSING = f"this ansible-core keeps module warnings elsewhere ({exc})"
else:
    MISSING = None
if RELEASE in WRAPPED:
    try:
        from ansible.module_utils import basic as _basic
        from ansible.module_utils.common.json import AnsibleJSONEncoder
        from ansible.utils.unsafe_proxy import wrap_var

        _basic._ANSIBLE_ARGS  # pylint: disable=pointless-statement,protected-access
    except (ImportError, AttributeError) as exc:  # pragma: no cover - another ansible-core
        MISSING = MISSING or f"this ansible-core's modules do not read their arguments as its wrapper sets them ({exc})"
else:
    try:
        from ansible.module_utils import _internal as _module_internal  # pylint: disable=ansible-bad-import-from
        from ansible.module_utils._internal._ansiballz._loader import run_module  # pylint: disable=ansible-bad-import-from
        from ansible.module_utils.common.json import Direction, get_module_encoder

        _module_internal.is_controller  # pylint: disable=pointless-statement
    except (ImportError, AttributeError) as exc:  # pragma: no cover - another ansible-core
        MISSING = MISSING or f"this ansible-core has no in-process module runner ({exc})"
try:  # until 2.20 a task result is a dict that the action cleans with this; 2.21 has a task result object
    from ansible.vars.clean import remove_internal_keys
except ImportError:  # pragma: no cover - ansible-core 2.21 and later
    remove_internal_keys = None

display = Display()

# Modules that declare no serialization profile of their own use this one (ansible-core's default).
PROFILE = "legacy"
SWITCH = "secure_cluster_in_process"
# The pattern's journal of this run's reads (see module_utils/kube/journal.py), set only while its steps run.
JOURNAL_VAR = "_containers_workload_pattern_journal"


# The calls this file makes to ansible-core's private functions, as (name, function, positional, keywords): at load
# each must accept them (inspect.signature), or the modules run the usual way. Placeholders stand for the values.
def _calls() -> list[tuple[str, object, tuple, dict]]:
    if RELEASE in WRAPPED:
        return [
            ("ActionBase._update_module_args", NormalAction._update_module_args, (None,) * 4, {}),
            ("ActionBase._parse_returned_data", NormalAction._parse_returned_data, (None, None), {}),
            ("ActionBase._compute_environment_string", NormalAction._compute_environment_string, (None,), {}),
            ("ActionBase._execute_module", NormalAction._execute_module, (None,),
             {name: None for name in ("module_name", "module_args", "task_vars", "wrap_async")}),
            ("runpy.run_module", runpy.run_module, (), {k: None for k in ("mod_name", "init_globals", "run_name",
                                                                          "alter_sys")}),
        ]
    calls = [
        ("ActionBase._update_module_args", NormalAction._update_module_args, (None,) * 4, {"ignore_unknown_opts": False}),
        ("ActionBase._parse_returned_data", NormalAction._parse_returned_data, (None, None, PROFILE), {}),
        ("ActionBase._compute_environment_string", NormalAction._compute_environment_string, (None,), {}),
        ("ActionBase._execute_module", NormalAction._execute_module, (None,),
         {name: None for name in ("module_name", "module_args", "task_vars", "wrap_async", "ignore_unknown_opts")}),
    ]
    if MISSING is None:
        calls += [("run_module", run_module, (), {k: None for k in ("json_params", "profile", "extensions", "module_fqn",
                                                                    "modlib_path")}),
                  ("get_module_encoder", get_module_encoder, (PROFILE, None), {})]
    return calls


def mismatched() -> str | None:
    """Which private ansible-core function no longer takes the call this file makes, or None when all do."""
    for name, function, args, kwargs in _calls():
        try:
            inspect.signature(function).bind(*args, **kwargs)
        except (TypeError, ValueError) as exc:
            return f"ansible-core's {name} does not take the call the in-process run makes ({exc})"
    return None


SIGNATURES = mismatched()
# The _execute_module arguments the in-process run understands; any other one given runs the module the usual way.
KNOWN = {"self", "module_name", "module_args", "tmp", "task_vars", "persist_files", "delete_remote_tmp",
         "wrap_async", "ignore_unknown_opts"}


def unavailable() -> str | None:
    """Why this ansible-core cannot run modules in process, or None when it can."""
    if RELEASE not in PROVEN:
        proven = ", ".join(".".join(map(str, release)) for release in PROVEN)
        return f"in-process runs are proven on ansible-core {proven}; this is {ANSIBLE_VERSION}"
    return MISSING or SIGNATURES


class NotStarted(Exception):
    """Something failed before the module began: the usual run is still safe (nothing was written)."""


class ActionModule(NormalAction):
    """``normal``, except that a local run in the controller's interpreter happens in this process."""

    def _execute_module(self, *args, **kwargs):
        # Every argument, including those a newer ansible-core adds, reaches the usual run untouched.
        usual = super()._execute_module
        try:
            call = inspect.signature(usual).bind(*args, **kwargs).arguments
        except TypeError:
            return usual(*args, **kwargs)  # ansible-core reports the wrong call itself
        try:
            try:
                reason = self._not_here(call)
            except Exception as exc:  # pylint: disable=broad-except
                raise NotStarted(f"checking where to run failed: {type(exc).__name__}: {exc}") from exc
            if reason is None:
                display.vvv(f"{self._task.action}: the module runs in the controller's Python (in process)")
                with self._journal(call):
                    return self._here(call)
        except NotStarted as exc:
            reason = str(exc)
        if reason:
            display.vvv(f"{self._task.action}: a new Python process runs the module ({reason})")
        self._unjournaled(call, reason)
        return usual(*args, **kwargs)

    def _journal_path(self, call: dict) -> str:
        task_vars = call.get("task_vars") or {}
        path = task_vars.get(JOURNAL_VAR) or ""
        return str(self._templar.template(path) if isinstance(path, str) and "{" in path else path or "")

    @contextlib.contextmanager
    def _journal(self, call: dict):
        """While the module runs: its reads go to the run's journal (module_utils/kube/journal.py), when the
        pattern keeps one. A module that did not start is run the usual way, which the journal marks."""
        path, previous = self._journal_path(call), os.environ.get(journal.ENV)
        if path:
            os.environ[journal.ENV] = path
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(journal.ENV, None)
            else:
                os.environ[journal.ENV] = previous

    def _unjournaled(self, call: dict, reason: str | None) -> None:
        """A module run in another process reads without the journal: the run keeps no record."""
        path = self._journal_path(call)
        if path and call.get("module_name") in (None, self._task.action):
            with contextlib.suppress(OSError):  # no journal left: no record either
                with open(path, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps({"incomplete": f"{self._task.action} ran in another process ({reason})"})
                                 + "\n")

    def _here(self, call: dict) -> dict:
        """Run in this process; anything raised before the module starts is a NotStarted (the usual run follows)."""
        task_vars = call.get("task_vars") or {}
        wrapped = RELEASE in WRAPPED
        try:
            args = dict(self._task.args if call.get("module_args") is None else call["module_args"])
            # 2.16's takes no ignore_unknown_opts (nor does its _execute_module pass one on)
            extra = {"ignore_unknown_opts": bool(call["ignore_unknown_opts"])} if "ignore_unknown_opts" in call else {}
            self._update_module_args(self._task.action, args, task_vars, **extra)
            prepared = self._prepare(args)
        except Exception as exc:  # pylint: disable=broad-except
            raise NotStarted(f"preparing the in-process run failed: {type(exc).__name__}: {exc}") from exc
        if wrapped:
            return wrap_var(self._cleaned(self._parse_returned_data(self._run_wrapped(*prepared))))
        return self._cleaned(self._parse_returned_data(self._run_here(*prepared), PROFILE))

    @staticmethod
    def _cleaned(parsed) -> dict:
        """The parsed module output without Ansible's internal keys, as ``_execute_module`` returns it."""
        if hasattr(parsed, "as_result_dict"):  # ansible-core 2.21: a task result object
            parsed.remove_internal_keys()
            return parsed.as_result_dict(for_round_trip=True)
        parsed.pop("_ansible_suppress_tmpdir_delete", None)
        remove_internal_keys(parsed)
        return parsed

    def _not_here(self, call: dict) -> str | None:
        """Why this run cannot happen in this process, or None when it can."""
        if call.get("module_name") not in (None, self._task.action):
            return ""  # another module (an action's helper): the usual way, nothing to say
        if unknown := sorted(set(call) - KNOWN):
            return f"ansible-core passes {', '.join(unknown)}, which the in-process run does not know"
        task_vars, wrap_async = call.get("task_vars") or {}, call.get("wrap_async", False)
        switch = task_vars.get(SWITCH, True)
        if not check_type_bool(self._templar.template(switch) if isinstance(switch, str) else switch):
            return f"{SWITCH} is false"
        if reason := unavailable():
            return reason
        if self._connection.transport != "local":
            return f"connection {self._connection.transport}"
        if wrap_async or self._task.async_val:
            return "async"
        if self._play_context.become:
            return "become"
        if self._task.environment and self._compute_environment_string():
            return "the task sets an environment"
        interpreter = task_vars.get("ansible_python_interpreter")
        if interpreter is not None:
            interpreter = self._templar.template(interpreter)
            if os.path.realpath(interpreter) != os.path.realpath(sys.executable):
                return f"interpreter {interpreter} is not the controller's"
        return None

    def _prepare(self, args: dict) -> tuple[str, bytes]:
        """The module's name and its encoded arguments, once the module imports (its main has not begun)."""
        namespace, collection, name = self._task.resolved_action.split(".")
        module_fqn = f"ansible_collections.{namespace}.{collection}.plugins.modules.{name}"
        importlib.import_module(module_fqn)  # an import error shows here, before anything ran
        if RELEASE in WRAPPED:  # as the wrapper of these releases encodes them
            params = json.dumps({"ANSIBLE_MODULE_ARGS": args}, cls=AnsibleJSONEncoder, vault_to_text=True)
            params = params.encode("utf-8")
        else:
            params = json.dumps({"ANSIBLE_MODULE_ARGS": args},
                                cls=get_module_encoder(PROFILE, Direction.CONTROLLER_TO_MODULE)).encode()
        # The module runs again as __main__, from a fresh copy, as runpy expects.
        sys.modules.pop(module_fqn, None)
        return module_fqn, params

    def _run_wrapped(self, module_fqn: str, params: bytes) -> dict:
        """Run the module as the AnsiballZ wrapper of ansible-core 2.16 to 2.18 does, and return what it printed
        like a finished command (a traceback on stderr, as a module process gives one)."""
        output, errors, rc = io.StringIO(), io.StringIO(), 0
        for clear in _CLEAR:
            clear()
        _basic._ANSIBLE_ARGS = params  # pylint: disable=protected-access
        try:
            with contextlib.redirect_stdout(output), contextlib.redirect_stderr(errors):
                try:
                    runpy.run_module(mod_name=module_fqn, init_globals={"_module_fqn": module_fqn,
                                                                        "_modlib_path": os.path.dirname(
                                                                            os.path.dirname(ansible.__file__))},
                                     run_name="__main__", alter_sys=True)
                    print('{"msg": "New-style module did not handle its own exit", "failed": true}')
                    rc = 1
                except SystemExit as exit_:
                    rc = exit_.code if isinstance(exit_.code, int) else 1
                except Exception:  # pylint: disable=broad-except
                    traceback.print_exc()
                    rc = 1
        finally:
            _basic._ANSIBLE_ARGS = None  # pylint: disable=protected-access
        return {"rc": rc, "stdout": output.getvalue(), "stderr": errors.getvalue()}

    def _run_here(self, module_fqn: str, params: bytes) -> dict:
        """Run the module as AnsiballZ would, and return what it printed like a finished command."""
        output, rc = io.StringIO(), 0
        controller = _module_internal.is_controller
        _module_internal.is_controller = False  # the module reports warnings in its result, as on a target
        # A new process starts with none; a loop runs its items in this one process.
        for clear in _CLEAR:
            clear()
        try:
            with contextlib.redirect_stdout(output):
                run_module(json_params=params, profile=PROFILE, extensions={},
                           module_fqn=module_fqn,
                           modlib_path=os.path.dirname(os.path.dirname(ansible.__file__)))
        except SystemExit as exit_:
            rc = exit_.code if isinstance(exit_.code, int) else 1
        finally:
            _module_internal.is_controller = controller
        return {"rc": rc, "stdout": output.getvalue(), "stderr": ""}
