"""Parsing the corpus of tests/data/mail (pure: no app): quoted history trimmed in Spanish and
English, automatic mail recognised, limits refused, names and headers cleaned."""

from __future__ import annotations

import pytest

from helpdesk.attachments import safe_filename
from helpdesk.inbound.parse import Limits, Refused, clean_header_text, envelope, parse
from helpdesk.inbound.quotes import trim_quoted

from .test_inbound_mail import corpus

DOMAIN = "soporte.bayit.example"


def parsed(name: str):
    return parse(corpus(name, ticket="12", in_reply_to="<T-000012.5.ab@soporte.bayit.example>"),
                 Limits(), own_domain=DOMAIN)


@pytest.mark.parametrize(("name", "body", "quoted_start"), [
    ("gmail_reply_es.eml", "Hola, ya lo probé y sigue sin funcionar en la tele del salón.\n\n"
     "Gracias", "El lun, 3 mar 2025 a las 10:02"),
    ("outlook_reply_en.eml", "It still stops after ten minutes, on both devices.", "____"),
    ("apple_reply_es.eml", "Perfecto, ya veo un solo cargo. ¡Gracias!", "> El 3 mar 2025"),
    ("thunderbird_reply_en.eml", "Works now, thanks for the quick help.", "On 03/03/2025"),
])
def test_replies_keep_only_the_new_text_and_the_quote_apart(name, body, quoted_start):
    message = parsed(name)
    assert message.body == body
    assert message.quoted.startswith(quoted_start)
    assert message.references == ["<T-000012.5.ab@soporte.bayit.example>"]


@pytest.mark.parametrize(("text", "body"), [
    ("Vale.\n\n-----Mensaje original-----\nDe: Soporte", "Vale."),
    ("Ok.\n\nDe: Bayit+ Soporte <soporte@bayit.example>\nEnviado: lunes\nPara: Ana", "Ok."),
    ("Thanks\n\n-----Original Message-----\nFrom: x", "Thanks"),
    ("El técnico vino ayer.\nNo funciona.", "El técnico vino ayer.\nNo funciona."),
    ("On the TV it fails.\nAlways.", "On the TV it fails.\nAlways."),
])
def test_separator_list_in_spanish_and_english(text, body):
    assert trim_quoted(text)[0] == body


def test_a_forward_keeps_all_its_text():
    message = parsed("forwarded_es.eml")
    assert "Se ha realizado un cargo" in message.body and message.quoted is None


def test_language_follows_content_language_or_the_words():
    assert parsed("outlook_reply_en.eml").language == "en"
    assert parsed("new_es.eml").language == "es"


def test_cc_and_to_addresses_are_read_without_the_sender():
    assert ("Tom Smith", "tom.smith@outlook.example") in parsed("outlook_reply_en.eml").cc


def test_nesting_and_part_limits_refuse():
    with pytest.raises(Refused, match="nesting"):
        parsed("nested_50.eml")
    with pytest.raises(Refused, match="parts"):
        parse(corpus("hostile_attachments.eml"), Limits(max_parts=3), own_domain=DOMAIN)
    with pytest.raises(Refused, match="attachments"):
        parse(corpus("hostile_attachments.eml"), Limits(max_attachments=2), own_domain=DOMAIN)


def test_display_names_lose_cr_lf_controls_and_bidi():
    assert clean_header_text("Eve\r\nBcc: x\u202e\x00", 120) == "Eve Bcc: x"
    raw = b"From: =?utf-8?q?Eve=0D=0AX-Evil=3A_1?= <eve@x.example>\r\nSubject: s\r\n\r\nb"
    assert envelope(raw)[2] == "Eve X-Evil: 1"


@pytest.mark.parametrize(("name", "safe"), [
    ("../../etc/passwd", "passwd"),
    ('"><img src=x onerror=alert(1)>.pdf', '"><img src=x onerror=alert(1)>.pdf'),
    ("factura\u202efdp.exe", "factura fdp.exe"),
    ("informe\r\nX-Injected: yes.txt", "informe X-Injected: yes.txt"),
    ("..\\..\\win.ini", "win.ini"),
    ("", "adjunto"),
    ("...", "adjunto"),
])
def test_attachment_names_are_sanitised(name, safe):
    assert safe_filename(name) == safe
