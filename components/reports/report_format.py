"""Tables rendered as self-contained HTML pages and as Markdown: the shape every report here shares.

Inline CSS and no script, so a report renders offline, in a browser, in the Kubeflow Pipelines UI (as a
system.HTML or system.Markdown artifact), or on a code host. Text that comes from data (class names, slice
values, paths, reasons) is escaped in both forms: Markdown renderers pass raw HTML through, and the Kubeflow
Pipelines UI renders system.Markdown artifacts in the browser.
"""
import dataclasses
import html
import math
import re
from typing import List, Optional, Sequence

STYLE = ('body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}'
         'td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child'
         '{text-align:left}th{background:#f3f3f3}.blessed{color:#176a1a}.refused{color:#a11}.note{color:#555}')


@dataclasses.dataclass
class Table:
  title: str
  header: Sequence[str]
  rows: List[Sequence[str]]
  note: str = ''


def number(value: Optional[float]) -> str:
  return 'n/a' if value is None or math.isnan(value) else f'{value:.4f}'


def count(value: Optional[float]) -> str:
  return 'n/a' if value is None or math.isnan(value) else f'{value:.0f}'


class Markdown(str):
  """Markdown written on purpose (an image, an inline chart), built from escaped parts: used as it is."""


# Marks that would make text a link, an image, emphasis, code or a new table cell.
_MARKDOWN_MARKS = re.compile(r'([\\`*_\[\]|])')


def markdown_text(value) -> str:
  """Text from data as Markdown that shows it literally: `<`, `>` and `&` as HTML entities, so that no value
  becomes a tag, Markdown's marks escaped with a backslash, and line breaks as spaces, so that a table keeps
  its shape. A Markdown value is returned unchanged."""
  if isinstance(value, Markdown):
    return value
  text = _MARKDOWN_MARKS.sub(r'\\\1', html.escape(str(value), quote=False))
  return ' '.join(text.splitlines())


def markdown_table(table: Table) -> str:
  lines = [f'## {markdown_text(table.title)}', '']
  if table.note:
    lines += [markdown_text(table.note), '']
  lines.append('| ' + ' | '.join(markdown_text(title) for title in table.header) + ' |')
  lines.append('|' + '---|' * len(table.header))
  lines += ['| ' + ' | '.join(markdown_text(cell) for cell in row) + ' |' for row in table.rows]
  return '\n'.join(lines) + '\n'


def html_table(table: Table) -> str:
  head = ''.join(f'<th>{html.escape(title)}</th>' for title in table.header)
  body = ''.join('<tr>' + ''.join(f'<td>{html.escape(str(cell))}</td>' for cell in row) + '</tr>'
                 for row in table.rows)
  note = f'<p class="note">{html.escape(table.note)}</p>' if table.note else ''
  return (f'<h2>{html.escape(table.title)}</h2>{note}'
          f'<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>')


def html_page(title: str, parts: Sequence[str]) -> str:
  """A page: the title as its heading, then the given HTML parts."""
  return '\n'.join([f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
                    f'<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>', *parts, '</body></html>'])


def page_body(page: str) -> str:
  """What html_page put between <body> and </body>: a page's content, to show inside another page."""
  start = page.find('<body>')
  end = page.rfind('</body>')
  return page[start + len('<body>'):end] if start >= 0 and end > start else page
