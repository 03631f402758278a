"""Attachment files: stored under instance/attachments/ by content hash, never by the sender's
name; names cleaned for display; a content type that is safe to serve.

The sender's name is kept only in the database row, without path separators, control
characters, bidi overrides or CR/LF. Whatever the sender declared, a file is served as
`application/octet-stream` unless its content really is a raster image or a PDF (checked with
`filetype`); HTML, SVG and XML never get their own type, so no browser renders them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

import filetype
from flask import current_app

#: Types served as themselves, when the content (not the sender) says so.
SAFE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"}
RASTER = {"image/png", "image/jpeg", "image/gif", "image/webp"}
_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f/\\\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
NAME_MAX = 120


def safe_filename(name: str | None) -> str:
    """The sender's file name for display: no directories, separators, control or bidi
    characters, no leading dots; "adjunto" when nothing is left."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/").split("/")[-1]
    name = " ".join(_UNSAFE_CHARS.sub(" ", name).split()).lstrip(". ")
    if len(name) > NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:NAME_MAX - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 \
            else name[:NAME_MAX]
    return name or "adjunto"


def sniffed_type(data: bytes) -> str:
    """The type to serve: a safe type the content proves, else application/octet-stream."""
    kind = filetype.guess(data[:8192])
    mime = kind.mime if kind is not None else None
    return mime if mime in SAFE_TYPES else "application/octet-stream"


def is_raster(content_type: str) -> bool:
    """Whether a thumbnail may be shown (the stored type came from the content)."""
    return content_type in RASTER


def root() -> Path:
    return Path(current_app.config["HELPDESK_INSTANCE"]) / "attachments"


def store(data: bytes) -> tuple[str, str]:
    """Write the content once under its SHA-256 (two messages with the same file share it);
    returns (sha256, path relative to the attachments folder)."""
    digest = hashlib.sha256(data).hexdigest()
    relative = f"{digest[:2]}/{digest}"
    path = root() / relative
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{id(data)}")
        tmp.write_bytes(data)
        tmp.replace(path)
    return digest, relative


def path_of(relative: str) -> Path | None:
    """The stored file of a row, only if it is inside the attachments folder."""
    base = root().resolve()
    path = (base / relative).resolve()
    return path if path.is_relative_to(base) and path.is_file() else None
