# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The files the collection writes (exposure reports, drift state, fleet pages): how each is written, and how
what comes from the cluster or the inventory is escaped for each format.

Every writer calls :func:`write_if_changed`: a file is replaced whole (a temporary file in the same directory,
flushed and synced, then renamed over it), so a run killed or a disk filled mid-write leaves the previous file,
never half of one. Markdown is escaped with :func:`markdown_text`, and a link to a file next to the page is
:func:`file_link`; HTML pages are Jinja2 templates with autoescaping (plugins/plugin_utils/pages.py).
"""

from __future__ import annotations

import os
import tempfile
import urllib.parse

NEW_FILE_MODE = 0o644


def read_bytes(path: str) -> bytes | None:
    """The file's content, or None when there is none to read."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def write_atomic(path: str, text: str, mode: int | None = None) -> None:
    """Replace ``path`` with ``text`` (UTF-8) in one rename: readers see the old file or the new one, never a part.

    The file keeps the mode it had (a user's chmod survives the replacement); a new one gets ``mode`` (0644)."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o755, exist_ok=True)
    try:
        kept = os.stat(path).st_mode & 0o7777
    except OSError:
        kept = None
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), kept if kept is not None else (mode or NEW_FILE_MODE))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _sync_directory(directory)


def _sync_directory(directory: str) -> None:
    """Make the rename itself durable; best effort, as some file systems cannot sync a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_if_changed(path: str, text: str, check_mode: bool, mode: int | None = None) -> bool:
    """Write the file (atomically) when it reads differently, never in check mode; True when it was (or would
    be) written."""
    if read_bytes(path) == text.encode("utf-8"):
        return False
    if not check_mode:
        write_atomic(path, text, mode)
    return True


# What would make Markdown inline text something else (a link, emphasis, code, a table cell break): escaped with a
# backslash, after the backslash itself. HTML's characters become entities, which every renderer shows as text.
_MD_PUNCTUATION = "\\`*_[]|~"
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def markdown_text(value, code: bool = False) -> str:
    """One table cell's (or heading's) worth of Markdown that reads as ``value`` and nothing else: on one line,
    with HTML and Markdown escaped. ``code``: as a code span, where ``value`` has nothing a code span would show
    other than as written (no backtick and no ``& < >``); else escaped text."""
    text = " ".join(str(value).split())  # newlines would end the table row
    if code and text and not any(c in text for c in "`&<>"):
        return "`" + text.replace("|", "\\|") + "`"  # GFM splits cells before code spans: a pipe needs its escape
    out = []
    for i, c in enumerate(text):
        # An underscore inside a word never opens emphasis (CommonMark): step and switch names stay readable.
        inside = c == "_" and 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()
        out.append(_MD_ENTITIES.get(c) or ("\\" + c if c in _MD_PUNCTUATION and not inside else c))
    return "".join(out)


def file_link(path: str) -> str:
    """A relative link to a file next to the page: ``./`` and the URL-quoted file name, so that no file name reads
    as a scheme (``javascript:``) or breaks out of an attribute or a Markdown link."""
    return "./" + urllib.parse.quote(os.path.basename(path), safe="")
