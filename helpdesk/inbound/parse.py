"""Parse one raw RFC 5322 message into what the helpdesk needs (pure: no session, no Flask).

The standard library's `email` package with `policy.default`; every text part decodes with
replacement characters whatever its charset says (ISO-8859-1, Windows-1252, a wrong or unknown
declaration, broken base64), so parsing never fails on encoding. An HTML-only message becomes
text through nh3 (an allowlist: no scripts, styles, forms, iframes, images, event handlers or
`javascript:`/`data:` URLs) and inscriptis. Quoted history is cut off `body` and kept in `quoted`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

import nh3
from inscriptis import get_text

from .. import backoff
from .quotes import trim_quoted

#: What survives of an HTML part before it becomes text: structure only, no attributes, nothing
#: that runs, styles or loads anything (no <img>: no tracking pixels, no server-side fetches).
#: No HTML is kept or shown: the panel displays the text.
SAFE_TAGS = {"a", "b", "i", "em", "strong", "u", "p", "br", "div", "span", "ul", "ol", "li",
             "blockquote", "pre", "code", "table", "thead", "tbody", "tr", "td", "th", "h1",
             "h2", "h3", "h4", "hr"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_SPANISH = {"el", "la", "de", "que", "y", "en", "los", "las", "por", "para", "no", "mi", "con",
            "hola", "gracias", "una", "es", "se", "funciona", "cuenta"}
_ENGLISH = {"the", "and", "to", "of", "is", "my", "it", "not", "for", "on", "with", "hello",
            "hi", "thanks", "please", "account", "can", "i", "you", "works"}


class Refused(Exception):
    """The message is past a limit (size, nesting, parts); `reason` says which."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 25 * 1024 * 1024
    max_depth: int = 10
    max_parts: int = 100
    max_attachments: int = 10
    max_attachment_bytes: int = 10 * 1024 * 1024


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Parsed:
    message_id: str
    sender: str
    sender_name: str
    subject: str
    references: list[str]
    cc: list[tuple[str, str]]
    body: str
    quoted: str | None
    language: str | None
    automatic: str | None
    attachments: list[ParsedAttachment] = field(default_factory=list)


def clean_header_text(value: object, limit: int) -> str:
    """A header value for display: no CR/LF, control or bidi characters, at most `limit`."""
    return " ".join(_CONTROL.sub(" ", str(value or "")).split())[:limit]


def synthetic_message_id(raw: bytes) -> str:
    """The stable stand-in for a message without a Message-ID: a hash of its bytes."""
    return f"<sha256-{hashlib.sha256(raw).hexdigest()[:40]}@inbound.invalid>"


def envelope(raw: bytes) -> tuple[str, str, str, str]:
    """(message_id, sender address, sender name, subject) from the headers alone: what is
    stored with the raw bytes before any parsing that could fail."""
    headers = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
    ids = backoff.message_ids(_raw_header(headers, "Message-ID"))
    name, address = _from(headers)
    subject = clean_header_text(_decoded(_raw_header(headers, "Subject")), 255)
    return (ids[0] if ids else synthetic_message_id(raw)), address, name, subject


def _decoded(value) -> str:
    """An RFC 2047 header as text; raw 8-bit bytes (which the parser keeps as surrogates) read
    as UTF-8, else Windows-1252; never an error."""
    text = str(value)
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        raw = text.encode("ascii", "surrogateescape")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
    try:
        return str(make_header(decode_header(text)))
    except (LookupError, UnicodeError, ValueError, HeaderParseError):
        return text


def _raw_header(headers: Message, name: str) -> str:
    """The first value of a header as received (8-bit bytes kept as surrogates)."""
    return next((str(v) for k, v in headers.raw_items() if k.lower() == name.lower()), "")


def _from(headers: Message) -> tuple[str, str]:
    name, address = parseaddr(_raw_header(headers, "From"))  # split first, then decode
    return clean_header_text(_decoded(name), 120), clean_header_text(address, 254).lower()


def parse(raw: bytes, limits: Limits, *, own_domain: str, known_lists=()) -> Parsed:
    """Everything the helpdesk reads from one message; Refused past a limit."""
    if len(raw) > limits.max_bytes:
        raise Refused(f"size {len(raw)} bytes over the limit of {limits.max_bytes}")
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    _check_structure(msg, limits)
    message_id, sender, sender_name, subject = envelope(raw)
    text = _text_of(msg)
    body, quoted = trim_quoted(text)
    return Parsed(
        message_id=message_id, sender=sender, sender_name=sender_name, subject=subject,
        references=_references(msg), cc=_addresses(msg, ("Cc", "To"), sender),
        body=body, quoted=quoted, language=_language(msg, body),
        automatic=automatic_reason(msg, own_domain=own_domain, known_lists=known_lists),
        attachments=_attachments(msg, limits),
    )


def _check_structure(msg: Message, limits: Limits) -> None:
    count = 0
    stack = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        count += 1
        if depth > limits.max_depth:
            raise Refused(f"MIME nesting deeper than {limits.max_depth}")
        if count > limits.max_parts:
            raise Refused(f"more than {limits.max_parts} MIME parts")
        if part.is_multipart():
            payload = part.get_payload()
            stack.extend((p, depth + 1) for p in payload if isinstance(p, Message))


def _references(msg: Message) -> list[str]:
    ids = []
    for name in ("In-Reply-To", "References"):
        for value in msg.get_all(name, []):
            ids.extend(backoff.message_ids(str(value)))
    return list(dict.fromkeys(ids))


def _addresses(msg: Message, names: tuple[str, ...], sender: str) -> list[tuple[str, str]]:
    values = [str(v) for n in names for v in msg.get_all(n, [])]
    found = {}
    for name, address in getaddresses(values):
        address = clean_header_text(address, 254).lower()
        if "@" in address and address != sender and address not in found:
            found[address] = clean_header_text(name, 120)
    return [(found[a], a) for a in found]


def decode_part(part: Message) -> str:
    """A text part's content as str: its declared charset when Python knows it, else
    UTF-8, then Windows-1252; undecodable bytes become U+FFFD, never an error."""
    payload = _payload(part)
    charset = (part.get_content_charset() or "utf-8").strip().lower()
    for candidate in (charset, "utf-8"):
        try:
            return payload.decode(candidate)
        except LookupError:
            continue
        except UnicodeDecodeError:
            if candidate == "utf-8":
                return payload.decode("cp1252", errors="replace")
            return payload.decode(candidate, errors="replace")
    return payload.decode("utf-8", errors="replace")


def _payload(part: Message) -> bytes:
    """The decoded bytes; broken base64 (bad characters, missing padding) decoded line by
    line, keeping every line that still makes sense."""
    if part.get("Content-Transfer-Encoding", "").strip().lower() != "base64":
        return part.get_payload(decode=True) or b""
    raw = part.get_payload(decode=False)
    raw = raw.encode("ascii", "replace") if isinstance(raw, str) else bytes(raw or b"")
    try:
        return base64.b64decode(b"".join(raw.split()), validate=True)
    except (binascii.Error, ValueError):
        pass
    out = []
    for line in raw.splitlines():
        chunk = _clean_b64(line)
        try:
            out.append(base64.b64decode(chunk + b"=" * (-len(chunk) % 4)))
        except (binascii.Error, ValueError):
            continue
    return b"".join(out)


def _clean_b64(raw: bytes) -> bytes:
    return re.sub(rb"[^A-Za-z0-9+/]", b"", raw.split(b"=")[0] if b"=" in raw else raw)


def _is_attachment(part: Message) -> bool:
    return part.get_content_disposition() == "attachment" or (
        part.get_filename() is not None and part.get_content_maintype() != "multipart")


def _text_of(msg: Message) -> str:
    plain = html = None
    for part in msg.walk():
        if part.is_multipart() or _is_attachment(part):
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = decode_part(part)
        elif kind == "text/html" and html is None:
            html = decode_part(part)
    if plain is not None and plain.strip():
        return _normalise(plain)
    if html is not None:
        return _normalise(html_to_text(html))
    return ""


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def html_to_text(html: str) -> str:
    """An HTML-only message as readable text: cleaned first (scripts and styles go with their
    content), then laid out by inscriptis."""
    cleaned = nh3.clean(html, tags=SAFE_TAGS, attributes={}, strip_comments=True,
                        clean_content_tags={"script", "style", "title", "head"})
    return get_text(cleaned) if cleaned.strip() else ""


def _language(msg: Message, body: str) -> str | None:
    declared = str(msg.get("Content-Language", "")).strip().lower()[:2]
    if declared in ("es", "en"):
        return declared
    words = re.findall(r"[a-záéíóúñü]+", body.lower())[:200]
    spanish = sum(w in _SPANISH for w in words)
    english = sum(w in _ENGLISH for w in words)
    if spanish == english:
        return None
    return "es" if spanish > english else "en"


def automatic_reason(msg: Message, *, own_domain: str, known_lists=()) -> str | None:
    """Why this message is an auto-reply, bulk mail, a bounce or our own echo (None: a
    person wrote it). Such messages never open tickets nor get acknowledgements."""
    loop = str(msg.get("X-Loop", "")).strip().lower()
    if loop and own_domain.lower() in loop:
        return "our own X-Loop marker"
    auto = str(msg.get("Auto-Submitted", "")).strip().lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto[:40]}"
    precedence = str(msg.get("Precedence", "")).strip().lower()
    if precedence in ("bulk", "junk", "list"):
        return f"Precedence: {precedence}"
    list_id = str(msg.get("List-Id", "")).strip().lower()
    if list_id and not any(known.lower() in list_id for known in known_lists):
        return "List-Id of an unknown list"
    for name in ("X-Autoreply", "X-Autorespond"):
        if str(msg.get(name, "")).strip():
            return f"{name} header"
    if msg.get_content_type() == "multipart/report":
        return "delivery-status report (multipart/report)"
    if str(msg.get("Return-Path", "x")).strip() == "<>":
        return "null Return-Path (bounce)"
    return None


def _attachments(msg: Message, limits: Limits) -> list[ParsedAttachment]:
    found = []
    for part in msg.walk():
        if part.is_multipart() or not _is_attachment(part):
            continue
        data = part.get_payload(decode=True) or b""
        if len(found) >= limits.max_attachments:
            raise Refused(f"more than {limits.max_attachments} attachments")
        if len(data) > limits.max_attachment_bytes:
            raise Refused(f"an attachment over {limits.max_attachment_bytes} bytes")
        name = part.get_filename()
        found.append(ParsedAttachment(_decoded(name) if name else "", part.get_content_type(),
                                      data))
    return found
