# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Calico selectors, parsed and evaluated as libcalico-go does.

The grammar: ``==``, ``!=``, ``in {}``, ``not in {}``, ``contains``, ``starts with``, ``ends with``, ``has()``,
``all()``, ``global()``, ``!``, ``&&``, ``||`` and parentheses.
"""

from __future__ import annotations

import re

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.errors import SecureClusterError


class CalicoSelectorError(SecureClusterError):
    """A selector libcalico-go would not parse."""


TOKEN = re.compile(r"""\s*(?:
    (?P<has>has\(\s*(?P<haskey>[a-zA-Z0-9_./-]{1,512})\s*\))
  | (?P<all>all\(\s*\))
  | (?P<glob>global\(\s*\))
  | (?P<notin>not\s*in\b)
  | (?P<inop>in\b)
  | (?P<contains>contains)
  | (?P<starts>starts\s*with)
  | (?P<ends>ends\s*with)
  | (?P<op>==|!=|&&|\|\||[!(){},])
  | (?P<string>"[^"]*"|'[^']*')
  | (?P<label>[a-zA-Z0-9_./-]{1,512})
)""", re.VERBOSE)


def tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise CalicoSelectorError(f"cannot read '{text[pos:].strip()[:20]}' at position {pos}")
        kind = match.lastgroup if match.lastgroup != "haskey" else "has"
        if kind == "has":
            out.append(("has", match.group("haskey")))
        elif kind == "string":
            out.append(("string", match.group(kind)[1:-1]))
        elif kind in ("op", "label"):
            out.append((kind if kind == "label" else match.group(kind), match.group(kind)))
        else:
            out.append((kind, ""))
        pos = match.end()
    return out


class Selector:
    """A parsed Calico selector; ``matches(labels)`` evaluates it."""

    def __init__(self, text: str):
        self.text = text or ""
        self.tokens = tokens(self.text)
        self.pos = 0
        self.tree = ("all",) if not self.tokens else self.parse_or()
        if self.pos != len(self.tokens):
            raise CalicoSelectorError(f"unexpected '{self.tokens[self.pos][1] or self.tokens[self.pos][0]}'")

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def take(self, kind: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise CalicoSelectorError("ends too early")
        token = self.tokens[self.pos]
        if kind and token[0] != kind:
            raise CalicoSelectorError(f"expected '{kind}' but found '{token[1] or token[0]}'")
        self.pos += 1
        return token

    def parse_or(self):
        left = self.parse_and()
        while self.peek() == "||":
            self.take()
            left = ("or", left, self.parse_and())
        return left

    def parse_and(self):
        left = self.parse_not()
        while self.peek() == "&&":
            self.take()
            left = ("and", left, self.parse_not())
        return left

    def parse_not(self):
        if self.peek() == "!":
            self.take()
            return ("not", self.parse_not())
        return self.parse_term()

    def parse_term(self):
        kind, value = self.take()
        if kind == "(":
            inner = self.parse_or()
            self.take(")")
            return inner
        if kind == "all":
            return ("all",)
        if kind == "glob":
            return ("global",)
        if kind == "has":
            return ("has", value)
        if kind != "label":
            raise CalicoSelectorError(f"expected a label, has(), all() or '(' but found '{value or kind}'")
        operator = self.take()[0]
        if operator in ("==", "!=", "contains", "starts", "ends"):
            return (operator, value, self.take("string")[1])
        if operator in ("inop", "notin"):
            self.take("{")
            values = set()
            while self.peek() != "}":
                values.add(self.take("string")[1])
                if self.peek() == ",":
                    self.take()
            self.take("}")
            return (operator, value, values)
        raise CalicoSelectorError(f"expected an operator after '{value}'")

    def matches(self, labels: dict) -> bool:
        return evaluate(self.tree, labels or {})


def evaluate(node, labels: dict) -> bool:
    kind = node[0]
    if kind in ("all", "global"):
        return True
    if kind == "has":
        return node[1] in labels
    if kind == "not":
        return not evaluate(node[1], labels)
    if kind in ("and", "or"):
        left = evaluate(node[1], labels)
        return (left and evaluate(node[2], labels)) if kind == "and" else (left or evaluate(node[2], labels))
    value = labels.get(node[1])
    if kind == "!=":
        return value != node[2]
    if kind == "notin":
        return value not in node[2]
    if value is None:
        return False
    if kind == "inop":
        return value in node[2]
    if kind == "contains":
        return node[2] in value
    if kind == "starts":
        return value.startswith(node[2])
    if kind == "ends":
        return value.endswith(node[2])
    return value == node[2]


def global_use(text: str) -> str | None:
    """How a (valid) selector uses ``global()``: None, "alone" or "combined" (with && or ||)."""
    def walk(node, top):
        if node[0] == "global":
            return "alone" if top else "combined"
        if node[0] in ("and", "or"):
            found = [walk(child, False) for child in node[1:]]
            return "combined" if any(found) else None
        if node[0] == "not":
            return walk(node[1], top)
        return None
    return walk(Selector(text).tree, True)


def selector_problem(text) -> str | None:
    if not isinstance(text, str):
        return "must be a string"
    try:
        Selector(text)
    except CalicoSelectorError as exc:
        return f"is not a valid selector: {exc}"
    return None
