"""A tiny builder for self-contained HTML pages (inline CSS, no scripts, no external resources).

Everything a page shows is built from :class:`Section` objects holding HTML fragments;
:func:`page` wraps them in one document with a table of contents. Text is escaped by
:func:`esc`; tables come from DataFrames through :func:`table`.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

STATUS_CLASS = {"PASS": "pass", "FAIL": "fail", "INCONCLUSIVE": "inconclusive",
                "REGRESSION": "fail", "IMPROVEMENT": "pass", "NO CHANGE": "neutral"}

CSS = """
:root{--ink:#1d2733;--muted:#5b6775;--line:#d8dee6;--bg:#f5f7fa;--card:#fff;--accent:#1f5f99;
--pass:#1b7f3b;--pass-bg:#e3f4e8;--fail:#b3261e;--fail-bg:#fbe6e4;--inc:#8a5a00;--inc-bg:#fff2d6;}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--ink);background:var(--bg)}
header.top{background:#14293d;color:#fff;padding:18px 32px}
header.top h1{margin:0;font-size:22px;font-weight:600}
header.top .sub{color:#b8c7d6;font-size:13px;margin-top:4px}
nav.toc{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid var(--line);padding:8px 32px;display:flex;flex-wrap:wrap;gap:4px 18px}
nav.toc a{color:var(--accent);text-decoration:none;font-size:13px}
main{max-width:1280px;margin:0 auto;padding:16px 32px 48px}
section.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:18px 22px;margin:18px 0}
section.card h2{margin:0 0 6px;font-size:18px}
section.card h3{margin:16px 0 6px;font-size:15px}
p.lead{color:var(--muted);margin:2px 0 12px;max-width:980px}
.note{color:var(--muted);font-size:12.5px}
.warn{background:var(--inc-bg);border-left:4px solid var(--inc);padding:8px 12px;margin:8px 0;border-radius:4px}
.verdict{display:flex;gap:14px;flex-wrap:wrap;align-items:stretch;margin:14px 0 0}
.kpi{background:var(--card);color:var(--ink);border:1px solid var(--line);border-radius:8px;padding:10px 16px;min-width:170px}
.kpi .v{font-size:22px;font-weight:650}
.kpi .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.kpi.pass{border-color:var(--pass);background:var(--pass-bg)} .kpi.pass .v{color:var(--pass)}
.kpi.fail{border-color:var(--fail);background:var(--fail-bg)} .kpi.fail .v{color:var(--fail)}
.kpi.inconclusive{border-color:var(--inc);background:var(--inc-bg)} .kpi.inconclusive .v{color:var(--inc)}
div.tw{overflow-x:auto}
table.data{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:13px;font-variant-numeric:tabular-nums}
table.data th{background:#eef2f6;text-align:left;font-weight:600;padding:6px 8px;border-bottom:2px solid var(--line);white-space:nowrap}
table.data td{padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
table.data td.num{text-align:right;white-space:nowrap}
table.data tr:hover td{background:#f8fafc}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:12px;letter-spacing:.02em}
.badge.pass{background:var(--pass-bg);color:var(--pass)} .badge.fail{background:var(--fail-bg);color:var(--fail)}
.badge.inconclusive{background:var(--inc-bg);color:var(--inc)} .badge.neutral{background:#eef2f6;color:var(--muted)}
figure{margin:8px 0 14px} figure svg{max-width:100%;height:auto} figcaption{color:var(--muted);font-size:12.5px;max-width:980px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:10px 18px}
.thumbs{display:flex;gap:8px;flex-wrap:wrap;margin-top:6px} .thumbs img{height:140px;max-width:100%;border:1px solid var(--line);border-radius:4px;background:#000}
.episodes{display:grid;grid-template-columns:repeat(auto-fill,minmax(400px,1fr));gap:12px}
.episode{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:#fbfcfd}
.episode .hd{display:flex;justify-content:space-between;font-weight:600} .episode .loss{color:var(--fail)}
.episode .cond{color:var(--muted);font-size:12.5px;margin-top:2px;word-break:break-word}
.nothumb{display:inline-block;color:var(--muted);font-size:12px;border:1px dashed var(--line);padding:8px 10px;border-radius:4px}
pre.cfg{background:#0f1b27;color:#d8e4ef;padding:12px;border-radius:6px;overflow:auto;max-height:420px;font-size:12px}
details summary{cursor:pointer;color:var(--accent);margin:6px 0}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:3px 18px;margin:6px 0} dl.meta dt{color:var(--muted)} dl.meta dd{margin:0;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;word-break:break-all}
footer{color:var(--muted);font-size:12px;text-align:center;padding:18px}
@media print{nav.toc{display:none} section.card{break-inside:avoid} body{background:#fff}}
"""


def esc(text: Any) -> str:
    """HTML-escape any value's ``str``."""
    return html.escape(str(text), quote=True)


@dataclass(frozen=True)
class Section:
    """One titled card of a page; ``body`` is trusted HTML built with this module."""

    id: str
    title: str
    body: str
    lead: str = ""

    def render(self) -> str:
        lead = f'<p class="lead">{esc(self.lead)}</p>' if self.lead else ""
        return f'<section class="card" id="{esc(self.id)}"><h2>{esc(self.title)}</h2>{lead}{self.body}</section>'


def fmt_num(value: Any, digits: int = 3) -> str:
    """Compact number formatting: blanks for missing values, integers without decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    if isinstance(value, float):
        if value != 0 and (abs(value) < 10 ** -(digits - 1) or abs(value) >= 1e6):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}" if abs(value) >= 1 else f"{value:.{digits}f}".rstrip("0").rstrip(".") or "0"
    return str(value)


def fmt_pct(value: Any, digits: int = 2) -> str:
    """A fraction as a percentage (``0.0123`` → ``1.23 %``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * float(value):.{digits}f} %"


def badge(status: str) -> str:
    return f'<span class="badge {STATUS_CLASS.get(status, "neutral")}">{esc(status)}</span>'


def table(
    df: pd.DataFrame,
    *,
    formats: Mapping[str, Callable[[Any], str]] | None = None,
    raw: Iterable[str] = (),
    max_rows: int | None = None,
) -> str:
    """Render a DataFrame as an HTML table.

    ``formats`` maps a column to a function returning *text* (escaped here); columns in
    ``raw`` hold trusted HTML (e.g. badges). Numbers are right-aligned.
    """
    formats = dict(formats or {})
    raw = set(raw)
    shown = df if max_rows is None else df.head(max_rows)
    head = "".join(f"<th>{esc(c)}</th>" for c in shown.columns)
    rows = []
    for rec in shown.itertuples(index=False, name=None):
        cells = []
        for col, val in zip(shown.columns, rec):
            if col in raw:
                cells.append(f"<td>{val}</td>")
                continue
            text = formats[col](val) if col in formats else fmt_num(val)
            numeric = isinstance(val, (int, float)) and not isinstance(val, bool)
            cells.append(f'<td class="num">{esc(text)}</td>' if numeric else f"<td>{esc(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if max_rows is not None and len(df) > max_rows:
        more = f'<p class="note">Showing the first {max_rows} of {len(df)} rows.</p>'
    return (f'<div class="tw"><table class="data"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
            f"</table></div>{more}")


def figure(svg: str, caption: str = "") -> str:
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f"<figure>{svg}{cap}</figure>"


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def definition_list(items: Sequence[tuple[str, Any]]) -> str:
    return '<dl class="meta">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items) + "</dl>"


def kpis(items: Sequence[tuple[str, str, str]]) -> str:
    """Key-figure tiles: ``(label, value, css status class or '')``."""
    tiles = "".join(f'<div class="kpi {esc(c)}"><div class="k">{esc(k)}</div><div class="v">{esc(v)}</div></div>'
                    for k, v, c in items)
    return f'<div class="verdict">{tiles}</div>'


def page(title: str, subtitle: str, sections: Sequence[Section], *, banner: str = "", footer: str = "") -> str:
    """A complete HTML document: header, sticky table of contents, sections, footer."""
    toc = "".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in sections)
    body = "".join(s.render() for s in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f'<header class="top"><h1>{esc(title)}</h1><div class="sub">{esc(subtitle)}</div>{banner}</header>'
        f'<nav class="toc">{toc}</nav><main>{body}</main><footer>{esc(footer)}</footer></body></html>\n'
    )
