"""Server-side SVG charts (pygal): one series each, values printed on the marks and every axis
labelled, so nothing depends on colour; no JavaScript, nothing from a CDN.

Drawing is the page's dearest part (pygal takes tens of milliseconds a chart), and the same
figures always give the same chart: each chart is kept per process, keyed by what it shows and
the viewer's language (`_drawn`, an LRU of 256), so only new figures are drawn again.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pygal
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from markupsafe import Markup
from pygal.style import Style

STYLE = Style(background="white", plot_background="white", font_family="inherit",
              colors=("#1f4e79", "#7a3b00", "#2d6a2d"), value_font_size=11,
              label_font_size=11, title_font_size=14)


def _config(chart, title: str, y_title: str):
    chart.config.js = []  # no tooltips script: a static, self-contained SVG
    chart.config.disable_xml_declaration = True
    chart.config.show_legend = False
    chart.config.print_values = True
    chart.config.title = title
    chart.config.y_title = y_title
    chart.config.width, chart.config.height = 640, 320
    chart.config.explicit_size = False
    chart.config.no_data_text = _("Sin datos.")
    return chart


_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)


def _svg(chart) -> Markup:
    """The chart as inline SVG, without pygal's inline <script> (our CSP forbids it)."""
    return Markup(_SCRIPT.sub("", chart.render(is_unicode=True)))


def _hours(seconds):
    return None if seconds is None else round(seconds / 3600, 1)


#: A line shows a dot per value up to this many values: pygal draws each dot as its own group
#: (a 90-day line took ~40 ms of dots), and past a month the dots merge into the line anyway.
MAX_DOTS = 31


def _draw_response(days: tuple) -> Markup:
    chart = _config(pygal.Line(style=STYLE, show_dots=len(days) <= MAX_DOTS, x_label_rotation=30,
                               show_minor_x_labels=False, print_values=False),
                    _("Mediana de primera respuesta por día"), _("Horas"))
    chart.x_labels = [format_date(day, "d MMM") for day, _median in days]
    chart.x_labels_major = chart.x_labels[::max(1, len(days) // 8)]
    chart.add(_("Mediana"), [median for _day, median in days])
    return _svg(chart)


def _draw_resolution(categories: tuple) -> Markup:
    chart = _config(pygal.HorizontalBar(style=STYLE), _("Mediana de resolución por categoría"),
                    _("Horas"))
    chart.x_labels = [name for name, _median in categories]
    chart.add(_("Mediana"), [median for _name, median in categories])
    return _svg(chart)


def _draw_ratings(distribution: tuple) -> Markup:
    chart = _config(pygal.Bar(style=STYLE), _("Distribución de valoraciones"),
                    _("Valoraciones"))
    chart.x_labels = ["1", "2", "3", "4", "5"]
    chart.add(_("Valoraciones"), list(distribution))
    return _svg(chart)


def _draw_backlog(data: tuple) -> Markup:
    rows, labels = data
    labels = dict(labels)
    chart = _config(pygal.Line(style=STYLE, x_label_rotation=30, show_minor_x_labels=False,
                               print_values=False, show_dots=len(rows) <= MAX_DOTS),
                    _("Pendientes de atender por estado"),
                    _("Tickets"))
    chart.config.show_legend = True
    chart.config.legend_at_bottom = True
    chart.x_labels = [format_date(row[0], "d MMM") for row in rows]
    chart.x_labels_major = chart.x_labels[::max(1, len(rows) // 8)]
    for position, (status, dash) in enumerate((("new", "0"), ("open", "8, 4"),
                                               ("pending", "2, 4")), start=1):
        chart.add(labels[status], [row[position] for row in rows],
                  stroke_style={"width": 2, "dasharray": dash})
    return _svg(chart)


_DRAW = {"response": _draw_response, "resolution": _draw_resolution,
         "ratings": _draw_ratings, "backlog": _draw_backlog}


@lru_cache(maxsize=256)
def _drawn(kind: str, locale: str, data: tuple) -> Markup:
    return _DRAW[kind](data)


def _chart(kind: str, data: tuple) -> Markup:
    return _drawn(kind, str(get_locale()), data)


def response_trend(by_day: list[dict]) -> Markup:
    """Median first response per day (hours), a line with dots."""
    return _chart("response", tuple((d["day"], _hours(d["median"])) for d in by_day))


def resolution_bars(by_category: list[dict]) -> Markup:
    """Median resolution per category (hours), horizontal bars with their values."""
    return _chart("resolution", tuple((r["key"], _hours(r["median"])) for r in by_category))


def rating_distribution(distribution: list[int]) -> Markup:
    """How many ratings of each score, 1 to 5."""
    return _chart("ratings", tuple(distribution))


def backlog_lines(rows: list[dict], labels: dict) -> Markup:
    """Open tickets per status per day: three lines told apart by dash and dot, not colour."""
    return _chart("backlog", (tuple((r["day"], r["new"], r["open"], r["pending"]) for r in rows),
                              tuple(sorted((k, str(v)) for k, v in labels.items()))))


def for_page(fig: dict, filters) -> dict:
    """Every chart of the page, as inline SVG."""
    return {"backlog": backlog_lines(fig["backlog"], fig["status_labels"]),
            "response": response_trend(fig["response"]["by_day"]),
            "resolution": resolution_bars(fig["resolution"]["by_category"]),
            "ratings": rating_distribution(fig["satisfaction"]["distribution"])}
