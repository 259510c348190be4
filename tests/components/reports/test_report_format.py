"""Report tables: text from data shows as text in Markdown, rendered with raw HTML on, and tables keep their
shape."""
from markdown_it import MarkdownIt

from components.reports import report_format

PAYLOADS = ('<script>alert(1)</script>', '"><img src=x onerror=alert(2)>', '<img src=y onerror=alert(4)>',
            '[click](javascript:alert(3))', 'a | b', '*bold* _it_ `code` \\')


def _render(markdown: str) -> str:
  return MarkdownIt('commonmark', {'html': True}).enable('table').render(markdown)


def test_markdown_text_renders_back_to_the_same_characters_and_no_markup():
  for payload in PAYLOADS:
    rendered = _render(report_format.markdown_text(payload))
    assert rendered == f'<p>{_render_escaped(payload)}</p>\n', payload


def _render_escaped(text: str) -> str:
  """How a renderer writes plain text: &, <, > and " as entities, nothing else changed."""
  return text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;').replace('"', '&quot;')


def test_a_table_of_payloads_keeps_its_columns_and_renders_no_tag_from_them():
  table = report_format.Table('Slices of <b>camera</b>', ['slice', 'examples'],
                              [[payload, '3'] for payload in PAYLOADS], note='note <i>x</i>\nsecond line')
  rendered = _render(report_format.markdown_table(table))
  for tag in ('<script', '<img', '<a ', '<b>', '<i>', '<strong>', '<em>', '<code>'):
    assert tag not in rendered
  assert rendered.count('<tr>') == 1 + len(PAYLOADS)
  assert rendered.count('<td>') == 2 * len(PAYLOADS)
  assert '<td>a | b</td>' in rendered and '&lt;script&gt;alert(1)&lt;/script&gt;' in rendered


def test_markdown_written_on_purpose_is_kept():
  image = report_format.Markdown('![matrix](confusion_matrix.svg)')
  rendered = _render(report_format.markdown_table(report_format.Table('t', ['chart'], [[image]])))
  assert '<img src="confusion_matrix.svg" alt="matrix"' in rendered
