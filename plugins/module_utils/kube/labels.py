# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes names, label keys and values, and label selectors: validation and local matching.

The rules are Kubernetes' own (apimachinery validation): a qualified name is an optional DNS-subdomain
prefix and a slash, then a name of at most 63 characters that starts and ends alphanumeric.
"""

from __future__ import annotations

import re

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.errors import SecureClusterError

_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SELECTOR_TOKEN = re.compile(r"\s*(!=|==|=|\(|\)|,|!|[^\s!=(),]+)")


def name_error(name: str) -> str | None:
    """Why ``name`` is not a valid object name (DNS subdomain), or None."""
    if not isinstance(name, str) or not name:
        return "must be a non-empty string"
    if len(name) > 253:
        return "must be at most 253 characters"
    if not _DNS_SUBDOMAIN.match(name):
        return "must be lowercase alphanumerics, '-' or '.', starting and ending alphanumeric"
    return None


def key_error(key: str) -> str | None:
    """Why ``key`` is not a valid label or taint key (qualified name), or None."""
    if not isinstance(key, str) or not key:
        return "must be a non-empty string"
    prefix, name = key.rpartition("/")[::2]
    if "/" in prefix:
        return "may contain at most one '/'"
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return f"prefix '{prefix}' must be a lowercase DNS subdomain of at most 253 characters"
    if not name or len(name) > 63 or not _NAME.match(name):
        return ("name part must be 1-63 characters: alphanumerics, '-', '_' or '.', "
                "starting and ending alphanumeric")
    return None


def value_error(value: str) -> str | None:
    """Why ``value`` is not a valid label or taint value, or None."""
    if not isinstance(value, str):
        return "must be a string"
    if len(value) > 63 or not _NAME.match(value):
        return "must be at most 63 characters: alphanumerics, '-', '_' or '.', starting and ending alphanumeric"
    return None


class LabelSelectorError(SecureClusterError):
    """A label selector that Kubernetes would reject."""


def parse_selector(text: str) -> list[tuple[str, str, frozenset]]:
    """Parse a label selector into requirements ``(key, operator, values)``.

    Supports what ``kubectl -l`` accepts: ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``,
    ``k`` (exists) and ``!k`` (does not exist), joined by commas.
    """
    tokens = _SELECTOR_TOKEN.findall(text.strip())
    if "".join(tokens).replace(" ", "") != re.sub(r"\s+", "", text):
        raise LabelSelectorError(f"label selector '{text}' contains characters that cannot be parsed")
    requirements = []
    pos = 0

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise LabelSelectorError(f"label selector '{text}' ends unexpectedly")
        pos += 1
        return tokens[pos - 1]

    while pos < len(tokens):
        token = take()
        negated = token == "!"
        key = take() if negated else token
        if key_error(key):
            raise LabelSelectorError(f"label selector '{text}': key '{key}' {key_error(key)}")
        nxt = tokens[pos] if pos < len(tokens) else ","
        if negated or nxt == ",":
            requirements.append((key, "!" if negated else "exists", frozenset()))
        elif nxt in ("=", "==", "!="):
            take()
            value = take() if pos < len(tokens) and tokens[pos] != "," else ""
            if value_error(value):
                raise LabelSelectorError(f"label selector '{text}': value '{value}' {value_error(value)}")
            requirements.append((key, "!=" if nxt == "!=" else "=", frozenset([value])))
        elif nxt in ("in", "notin"):
            take()
            if take() != "(":
                raise LabelSelectorError(f"label selector '{text}': expected '(' after '{nxt}'")
            values = []
            while True:
                value = take()
                if value == ")":
                    break
                if value == ",":
                    continue
                if value_error(value):
                    raise LabelSelectorError(f"label selector '{text}': value '{value}' {value_error(value)}")
                values.append(value)
            if not values:
                raise LabelSelectorError(f"label selector '{text}': '{nxt}' needs at least one value")
            requirements.append((key, nxt, frozenset(values)))
        else:
            raise LabelSelectorError(f"label selector '{text}': unexpected '{nxt}' after key '{key}'")
        if pos < len(tokens) and take() != ",":
            raise LabelSelectorError(f"label selector '{text}': requirements must be separated by ','")
    return requirements


def selector_matches(requirements: list[tuple[str, str, frozenset]], labels: dict) -> bool:
    """Whether an object with ``labels`` is selected by the parsed requirements."""
    for key, op, values in requirements:
        present = key in labels
        if op == "exists" and not present:
            return False
        if op == "!" and present:
            return False
        if op in ("=", "in") and (not present or labels[key] not in values):
            return False
        if op in ("!=", "notin") and present and labels[key] in values:
            return False
    return True
