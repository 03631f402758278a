"""The 500 page: a reference the person can quote, the same one in the log, no traceback."""

from __future__ import annotations

import logging

import pytest

from app import create_app


@pytest.fixture
def failing_app(app_config):
    """The real app with one route that fails as an unexpected bug would."""
    app = create_app({**app_config, "PROPAGATE_EXCEPTIONS": False})
    app.config["TESTING"] = False  # let the error handler answer, as in production

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals: password=hunter2")

    return app


def test_the_500_page_names_a_reference_that_the_log_line_also_has(failing_app, caplog):
    with caplog.at_level(logging.ERROR):
        response = failing_app.test_client().get("/boom")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Error interno" in page and "hunter2" not in page and "Traceback" not in page
    reference = page.split("con la referencia ")[1].split(":")[0]
    assert len(reference) == 12
    assert f"(request {reference})" in caplog.text


def test_a_plain_proxy_request_id_is_kept_and_a_forged_one_replaced(failing_app, caplog):
    client = failing_app.test_client()
    with caplog.at_level(logging.ERROR):
        kept = client.get("/boom", headers={"X-Request-Id": "lb-7f3a.91"})
        replaced = client.get("/boom", headers={"X-Request-Id": "x 2026 forged=line"})
    assert "lb-7f3a.91" in kept.get_data(as_text=True)
    assert "forged" not in replaced.get_data(as_text=True) and "forged" not in caplog.text


def test_the_500_page_speaks_the_panel_language(app_config):
    app = create_app({**app_config, "PROPAGATE_EXCEPTIONS": False, "BABEL_DEFAULT_LOCALE": "en"})
    app.config["TESTING"] = False

    @app.route("/boom")
    def boom():
        raise RuntimeError("bug")

    page = app.test_client().get("/boom").get_data(as_text=True)
    assert "Internal error" in page and "with the reference" in page
