"""Read pages as a browser would: a small HTML reader (no third-party parser in the venv), the
values a form would post, flashed messages, and the form that posts to a given URL."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Element:
    """One element of the page: its tag, attributes, children and text (descendants included)."""

    def __init__(self, tag: str, attrs: dict, parent: Element | None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Element] = []
        self.parts: list[str] = []

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())

    @property
    def raw_text(self) -> str:
        return "".join(self.parts)

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def iter(self):
        for child in self.children:
            yield child
            yield from child.iter()

    def select(self, tag: str | None = None, cls: str | None = None, **attrs) -> list[Element]:
        """Descendants matching tag, class and attributes (data_testid → data-testid)."""
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [e for e in self.iter()
                if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)
                and all(e.attrs.get(k) == v for k, v in wanted.items())]

    def one(self, tag: str | None = None, cls: str | None = None, **attrs) -> Element:
        found = self.select(tag, cls, **attrs)
        assert len(found) == 1, f"expected one {tag or ''}.{cls or ''}{attrs}, got {len(found)}"
        return found[0]

    def testid(self, key: str) -> Element:
        return self.one(data_testid=key)


class _Reader(HTMLParser):
    """Parse a document into an Element tree; `reader.root` is the document."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self.stack = [self.root]
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: v or "" for k, v in attrs}, self.stack[-1])
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Element(tag, {k: v or "" for k, v in attrs},
                                               self.stack[-1]))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        for element in self.stack:
            element.parts.append(data)


def parse(page) -> Element:
    """The document of a response (or of an HTML string)."""
    html = page if isinstance(page, str) else page.get_data(as_text=True)
    return _Reader(html).root


def form_fields(form: Element) -> dict[str, str]:
    """The values a browser would post from a form (inputs, textareas, selected options)."""
    fields = {}
    for e in form.iter():
        name = e.attrs.get("name")
        if not name:
            continue
        if e.tag == "input":
            fields[name] = e.attrs.get("value", "")
        elif e.tag == "textarea":
            fields[name] = e.raw_text
        elif e.tag == "select":
            options = e.select("option")
            chosen = [o for o in options if "selected" in o.attrs] or options[:1]
            fields[name] = chosen[0].attrs.get("value", "") if chosen else ""
    return fields


def flashes(page: Element) -> str:
    """The text of every flashed message on the page."""
    return " ".join(e.text for e in page.select("div", cls="alert-dismissable"))


def forms_posting_to(page: Element, page_url: str, target: str) -> list[Element]:
    """The POST forms of a page (at `page_url`) whose action is `target`'s path; a form with
    no action posts to the page itself, as in a browser."""
    path = urlsplit(target).path
    return [form for form in page.select("form")
            if form.attrs.get("method", "get").lower() == "post"
            and urlsplit(urljoin(page_url, form.attrs.get("action") or page_url)).path == path]


def csrf_token(form: Element) -> str | None:
    """The form's hidden csrf_token, or None when it carries none."""
    found = [e for e in form.select("input", name="csrf_token") if e.attrs.get("value")]
    return found[0].attrs["value"] if found else None
