"""The stylesheet report.html carries inline (no external resources)."""

from __future__ import annotations

from html import escape
from typing import Final

__all__ = ["COLOURS", "CSS"]

#: Colour per kind (see _common.KINDS), and of a matrix cell whose check did not run and of
#: an unusable target: the background of chips, tiles and cells, and the colour of marks.
COLOURS: Final[dict[str, str]] = {
    "passed": "#1a7f37",
    "failed-required": "#cf222e",
    "failed-advisory": "#bf8700",
    "not-applicable": "#8c959f",
    "not-implemented": "#6e7781",
    "skipped": "#0969da",
    "error": "#8250df",
    "absent": "#afb8c1",
    "unusable": "#57606a",
}

_KIND_RULES = "\n".join(f".k-{name} {{ --k: {colour}; }}" for name, colour in COLOURS.items())

CSS: Final = (
    """
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0;
  --soft: #f6f8fa; --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 -apple-system, "Segoe UI", Roboto, Helvetica, Arial,
  sans-serif; color: var(--fg); background: #fff; }
main, header > div { max-width: 1200px; margin: 0 auto; padding: 0 24px; }
h1 { font-size: 26px; margin: 0 0 12px; }
h2 { font-size: 19px; margin: 32px 0 12px; padding-bottom: 6px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 0 0 8px; }
h4 { font-size: 14px; margin: 16px 0 6px; }
code, pre { font-family: var(--mono); font-size: 12.5px; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
  padding: 8px 10px; margin: 4px 0 8px; white-space: pre-wrap; overflow-wrap: anywhere;
  max-height: 420px; overflow: auto; }
a { color: #0969da; }
header { padding: 24px 0 16px; border-bottom: 4px solid var(--v); background: var(--vbg); }
header.v-ok { --v: #1a7f37; --vbg: #dafbe1; }
header.v-fail { --v: #cf222e; --vbg: #ffebe9; }
header.v-inconclusive { --v: #8250df; --vbg: #fbefff; }
dl.meta { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr));
  gap: 4px 24px; margin: 0 0 12px; }
dl.meta div { display: flex; gap: 8px; min-width: 0; }
dl.meta div.wide { grid-column: span 2; }
dl.meta dt { color: var(--muted); white-space: nowrap; }
dl.meta dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.counts { display: flex; flex-wrap: wrap; gap: 8px; }
.chip { display: inline-block; padding: 2px 10px 2px 5px; border-radius: 12px; color: #fff;
  background: var(--k); font-weight: 600; font-size: 13px; white-space: nowrap; }
.alert { border: 2px solid #cf222e; background: #ffebe9; border-radius: 6px;
  padding: 12px 16px; margin: 20px 0 0; font-weight: 600; }
.history-frame { overflow-x: auto; margin: 4px 0 8px; }
.legend { display: flex; flex-wrap: wrap; gap: 16px; margin: 0 0 12px; color: var(--muted); }
.family { display: grid; grid-template-columns: 160px 1fr; gap: 12px; align-items: start;
  padding: 6px 0; border-top: 1px solid var(--soft); }
.family > div:first-child { font-weight: 600; overflow-wrap: anywhere; padding-top: 3px; }
.tiles { display: flex; flex-wrap: wrap; gap: 6px; }
.tile { display: inline-block; padding: 3px 8px 3px 5px; border-radius: 4px; background: var(--k);
  color: #fff; font: 600 12px/1.4 var(--mono); text-decoration: none; }
.tile:hover, .tile:focus { outline: 2px solid var(--fg); outline-offset: 1px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.reason { color: var(--muted); overflow-wrap: anywhere; }
td:first-child { white-space: nowrap; }
td .chip { font-size: 12px; }
tr:target { background: #fff8c5; }
.check { border: 1px solid var(--line); border-left: 6px solid var(--k); border-radius: 6px;
  padding: 14px 16px; margin: 0 0 16px; scroll-margin-top: 12px; }
.check:target { box-shadow: 0 0 0 3px #fff8c5; }
.check p { margin: 4px 0; }
.label { color: var(--muted); }
.finding { border-top: 1px dashed var(--line); margin-top: 12px; padding-top: 4px; }
.exchange { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.exchange > div { min-width: 0; }
h5 { margin: 8px 0 2px; font-size: 13px; }
.note { color: var(--muted); font-style: italic; font-size: 12.5px; }
.restore-failed { border: 2px solid #cf222e; border-radius: 6px; padding: 12px 16px;
  margin: 0 0 12px; background: #fff5f5; }
footer { max-width: 1200px; margin: 32px auto; padding: 0 24px; color: var(--muted); }
@media (max-width: 800px) { .exchange, .family { grid-template-columns: 1fr; } }
"""
    + _KIND_RULES
    + "\n"
)


_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def page(title: str, css: str, header: str, main: str, footer: str) -> str:
    """One self-contained page: no script, no outside resource (the CSP forbids both).
    `title` is plain text; the other parts are HTML already escaped by the caller."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="referrer" content="no-referrer">
<title>{escape(title, quote=True)}</title>
<style>{css}</style>
</head>
<body>
{header}
<main>
{main}
</main>
<footer>{footer}</footer>
</body>
</html>
"""
