"""The Jinja2 environment of the HTML outputs (templates in ``templates/``) and the
notebook view of a results folder."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from trialsim.report.cells import frame_table


def environment() -> Environment:
    """Templates of ``trialsim/report/templates``, HTML-escaped, strict about names."""
    return Environment(loader=PackageLoader("trialsim.report"), autoescape=select_autoescape(
        ["html", "j2"]), undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def headline_html(res) -> str:
    """The notebook view of a results folder (a ``ResultsFolder``): what it is and its
    headline table, each number with its MCSE."""
    table = frame_table(res.headline(), "Headline (MCSE: Monte Carlo standard error)",
                        "headline")
    return environment().get_template("headline.html.j2").render(res=res, table=table)
