"""Jinja's StrictUndefined for our templates only, so a typo in one fails a test."""

from __future__ import annotations

import sys
from pathlib import Path

from jinja2 import StrictUndefined, Undefined

OURS = str(Path(__file__).resolve().parent.parent / "templates") + "/"


def _in_our_template() -> bool:
    """Whether the innermost template on the stack is one of ours (templates/…)."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename  # compiled templates keep their file's path
        if filename.endswith(".html"):
            return filename.startswith(OURS)
        frame = frame.f_back
    return False


class OurStrictUndefined(Undefined):
    """Strict (printing, testing, comparing or iterating an undefined value raises) inside our
    templates; lenient inside Flask-Admin's, which compare `field.widget.input_type` on widgets
    that have none (admin/lib.html) and would fail every form with a described textarea."""

    __slots__ = ()


def _guard(name: str):
    lenient = getattr(Undefined, name)

    def method(self, *args):
        if _in_our_template():
            return getattr(StrictUndefined, name)(self, *args)
        return lenient(self, *args)

    method.__name__ = name
    return method


# StrictUndefined's list; `in` falls back to __iter__
for _name in ("__str__", "__iter__", "__len__", "__eq__", "__ne__", "__bool__", "__hash__"):
    setattr(OurStrictUndefined, _name, _guard(_name))
