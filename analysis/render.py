"""The report document rendered: Markdown (figures as PNG files beside it) or self-contained HTML.

In the HTML the figures are embedded as base64 PNG and one inline stylesheet styles it;
the Markdown links each figure under `figures/`.
"""

from __future__ import annotations

import base64
import html
import re

from analysis.document import Heading, Report, TableBlock, Text

FIGURES = "figures"  # the folder beside the report that holds its figures


def render_markdown(report: Report) -> str:
    parts = [f"# {report.title}"]
    for block in report.blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Text):
            parts.append(block.text)
        elif isinstance(block, TableBlock):
            parts.append(block.table.markdown())
        else:
            parts.append(f"![{block.caption}]({FIGURES}/{block.name}.png)\n\n*{block.caption}*")
    return "\n\n".join(parts) + "\n"


def render_html(report: Report) -> str:
    body = [f"<h1>{html.escape(report.title)}</h1>"]
    for block in report.blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Text):
            body.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, TableBlock):
            body.append(block.table.html())
        else:
            data = base64.b64encode(block.png).decode("ascii")
            body.append(
                f'<figure><img alt="{html.escape(block.caption)}" '
                f'src="data:image/png;base64,{data}"><figcaption>'
                f"{html.escape(block.caption)}</figcaption></figure>"
            )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(report.title)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1300px;margin:2em auto;padding:0 1em;"
    "color:#222;line-height:1.45}table{border-collapse:collapse;margin:0.8em 0;font-size:0.9em}"
    "th,td{border:1px solid #ccc;padding:0.3em 0.6em;text-align:left}th{background:#f3f3f3}"
    "img{max-width:100%}figure{margin:1em 0}figcaption{color:#555;font-size:0.9em}"
    "code{background:#f3f3f3;padding:0 0.2em}h2{border-bottom:1px solid #ddd;margin-top:2em}"
)


def _inline(text: str) -> str:
    """Escape, then the two Markdown spans the report's texts use: `code` and **bold**."""
    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)
