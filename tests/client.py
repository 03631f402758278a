"""A test client that posts forms the way a browser does, with CSRF protection on."""

from __future__ import annotations

from flask_login import FlaskLoginClient

from .pages import csrf_token, forms_posting_to, parse


class BrowserClient(FlaskLoginClient):
    """`post()` sends the csrf_token of the form that posts there, read from the page the client
    is on (the last HTML page it received), else from `page=`, else from a GET of the URL itself
    (a create or edit form's own page). A post no page offers a form for (a forged request, a
    role without the button) takes the session's token from `token_from=` instead, and
    `csrf=False` posts with no token at all, to prove it is refused."""

    current: tuple[str, str] | None = None  # (URL, HTML) of the page the client is on

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        if response.mimetype == "text/html" and not 300 <= response.status_code < 400:
            self.current = (response.request.url, response.get_data(as_text=True))
        return response

    def post(self, url, *args, page=None, token_from=None, csrf=True, **kwargs):
        data = kwargs.get("data")
        if csrf and not (isinstance(data, dict) and "csrf_token" in data):
            token = self._any_token(token_from) if token_from else self._form_token(url, page)
            kwargs["data"] = {**(data or {}), "csrf_token": token}
        return super().post(url, *args, **kwargs)

    def _visit(self, url: str) -> tuple[str, str]:
        response = self.get(url)
        return response.request.url, response.get_data(as_text=True)

    def _form_token(self, url: str, page: str | None) -> str:
        sources = [page] if page else [None, url]
        for source in sources:
            where = self._visit(source) if source else self.current
            if where is None:
                continue
            forms = forms_posting_to(parse(where[1]), where[0], url)
            if forms:
                tokens = [csrf_token(form) for form in forms]
                assert all(tokens), f"a form posting to {url} on {where[0]} has no csrf_token"
                return tokens[0]
        raise AssertionError(f"no form posting to {url} on {page or 'the current page'} "
                             "nor at that URL; pass page= (or token_from= for a forged post)")

    def _any_token(self, url: str) -> str:
        tokens = [e.attrs["value"] for e in parse(self._visit(url)[1]).select(
            "input", name="csrf_token") if e.attrs.get("value")]
        assert tokens, f"no csrf_token on {url}"
        return tokens[0]
