# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error family of the collection.

Every error a module can meet derives from :class:`SecureClusterError`, so the shared runner turns any of
them into a clear ``fail_json`` (with whatever was already done) and never into a traceback.
"""

from __future__ import annotations


class SecureClusterError(Exception):
    """A failure a user can act on; ``result`` holds what was already done (partial results)."""

    def __init__(self, message: str, result: dict | None = None):
        super().__init__(message)
        self.result = result or {}


class InvalidInput(SecureClusterError):
    """Input refused before the first call to any API; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str], prefix: str = ""):
        super().__init__(prefix + "; ".join(errors))
        self.errors = list(errors)


def raise_if(errors: list[str], prefix: str = "") -> None:
    """The validation contract: collect every ``*_errors()`` list first, then raise once."""
    if errors:
        raise InvalidInput(errors, prefix)
