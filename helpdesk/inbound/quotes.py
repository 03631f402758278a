"""Cut the quoted history off a reply (pure).

mail-parser-reply (maintained, multi-language) finds English and Outlook-style headers; its
Spanish "escribió:" pattern expects two spaces and misses what Gmail, Apple Mail and Thunderbird
write, so our own short list of separators runs first.
"""

from __future__ import annotations

import re

from mailparser_reply import EmailReplyParser

#: Lines that start the quoted history, Spanish and English, as common clients write them.
SEPARATORS = [
    # Gmail / Apple Mail / Thunderbird, Spanish: "El lun, 3 mar 2025 a las 10:02, Ana escribió:"
    # (the header may wrap onto a second line before "escribió:")
    re.compile(r"^El\s[^\n]{4,200}?(?:\n[^\n]{0,120}?)?escribi[óo]\s?:[ \t]*$", re.M),
    re.compile(r"^On\s[^\n]{4,200}?(?:\n[^\n]{0,120}?)?wrote\s?:[ \t]*$", re.M),
    re.compile(r"^-{2,}\s*(Mensaje original|Original Message|Mensaje reenviado|"
               r"Forwarded message)\s*-{2,}\s*$", re.M | re.I),
    re.compile(r"^_{20,}\s*$\n^(De|From):", re.M),  # Outlook's rule above the header block
    re.compile(r"^(De|From):\s.+\n(Enviado|Sent|Fecha|Date):\s.+$", re.M),
]
_PARSER = EmailReplyParser(languages=["es", "en"])


def trim_quoted(text: str) -> tuple[str, str | None]:
    """(the new text, the quoted history or None). Never returns an empty body for a message
    that had text: if everything looks quoted (a forward), the whole text stays."""
    cut = min((m.start() for rx in SEPARATORS if (m := rx.search(text)) and m.start() > 0),
              default=None)
    if cut is None:
        try:
            latest = _PARSER.read(text).latest_reply or ""
        except Exception:  # a third-party parser never costs us a message
            latest = ""
        latest = latest.strip()
        if latest and latest != text.strip() and text.startswith(latest[:20]):
            cut = len(latest) if text[:len(latest)] == latest else None
    if cut is None:
        cut = _trailing_quote_block(text)
    if cut is None:
        return text.strip(), None
    body = _drop_trailing_quotes(text[:cut]).strip()
    if not body or _FORWARD_ONLY.fullmatch(body):
        return text.strip(), None  # all of it is quoted (a forward): the whole text is news
    return body, text[cut:].strip() or None


_FORWARD_ONLY = re.compile(r"[-_=\s]*((forwarded|original) message|mensaje (reenviado|original)|"
                           r"fwd?:?)?[-_=\s]*", re.I)


def _trailing_quote_block(text: str) -> int | None:
    """Where a closing block of `>` lines starts (Apple Mail quotes its header too)."""
    lines = text.rstrip().split("\n")
    start = len(lines)
    while start > 0 and (lines[start - 1].startswith(">") or not lines[start - 1].strip()):
        start -= 1
    if start == len(lines) or start == 0:
        return None
    return sum(len(line) + 1 for line in lines[:start])


def _drop_trailing_quotes(text: str) -> str:
    lines = text.rstrip().split("\n")
    while lines and (lines[-1].startswith(">") or not lines[-1].strip()):
        lines.pop()
    return "\n".join(lines)
