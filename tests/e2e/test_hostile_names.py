"""Class names and slice values that are HTML reach every Markdown file a run writes as text, never as tags.

The Kubeflow Pipelines UI renders system.Markdown artifacts in the browser, and Markdown passes raw HTML
through; a run whose labels and slice column hold script and event-handler payloads must write reports that a
CommonMark renderer with raw HTML on (the worst case) turns into text that shows the payloads, with no script
element and no event-handler attribute.
"""
import csv
import glob
import html.parser
import os
import subprocess
import sys

import pytest
from markdown_it import MarkdownIt

from components import names
from pipeline import sample_data

pytestmark = pytest.mark.slow

VISIONFLOW = os.path.join(os.path.dirname(sys.executable), 'visionflow')
HOSTILE_LABELS = {'zero': '<script>alert(1)</script>', 'one': '"><img src=x onerror=alert(2)>'}
HOSTILE_SLICE = '<img src=y onerror=alert(4)>'


class _Tags(html.parser.HTMLParser):
  """The tags, attribute names and image sources of rendered HTML, and its text."""

  def __init__(self):
    super().__init__()
    self.tags, self.attributes, self.image_sources, self.text = set(), set(), set(), []

  def handle_starttag(self, tag, attrs):
    self.tags.add(tag)
    self.attributes.update(name for name, _ in attrs)
    if tag == 'img':
      self.image_sources.update(value for name, value in attrs if name == 'src')

  def handle_data(self, data):
    self.text.append(data)


def _rendered(markdown: str) -> _Tags:
  tags = _Tags()
  tags.feed(MarkdownIt('commonmark', {'html': True}).enable('table').render(markdown))
  return tags


@pytest.fixture(scope='module')
def hostile_run(tmp_path_factory):
  """A short run on 300 digit scans whose classes zero and one are named by HTML payloads, sliced by a column whose
  values alternate between a payload and a plain word; returns (output folder, the run's result)."""
  root = tmp_path_factory.mktemp('hostile')
  digits_csv, digits_labels = sample_data.materialize_digits(str(root / 'digits'), limit=300)
  with open(digits_labels) as handle:
    labels = [HOSTILE_LABELS.get(label, label) for label in handle.read().split()]
  labels_path = root / 'labels.txt'
  labels_path.write_text('\n'.join(labels) + '\n')
  csv_path = root / 'data.csv'
  with open(digits_csv, newline='') as source, open(csv_path, 'w', newline='') as target:
    writer = csv.writer(target)
    for index, (relative, label) in enumerate(csv.reader(source)):
      writer.writerow([os.path.join(os.path.dirname(digits_csv), relative), HOSTILE_LABELS.get(label, label),
                       HOSTILE_SLICE if index % 2 else 'plain'])
  output_dir = str(root / 'out')
  result = subprocess.run(
      [VISIONFLOW, 'run', '--output-dir', output_dir, '--data-csv', str(csv_path), '--labels-file',
       str(labels_path), '--csv-columns', 'image_path,label,camera', '--slice-features', 'camera',
       '--tuner-trials', '0', '--epochs', '3', '--min-accuracy', '0', '--min-slice-accuracy', '0'],
      capture_output=True, text=True, timeout=1200)
  return output_dir, result


def _markdown_files(output_dir: str):
  root = os.path.join(output_dir, 'pipeline_root')
  return (glob.glob(os.path.join(root, 'Evaluator', '**', names.REPORT_MARKDOWN_FILE), recursive=True)
          + glob.glob(os.path.join(output_dir, 'serving', '**', names.MODEL_CARD_MARKDOWN_FILE), recursive=True)
          + glob.glob(os.path.join(root, '*', names.MARKDOWN_REPORT, '*', 'value')))


def test_the_run_with_html_in_class_names_and_slices_is_pushed(hostile_run):
  _, result = hostile_run
  assert result.returncode == 0, result.stdout + result.stderr[-3000:]
  assert 'Pushed model: ' in result.stdout


def test_every_markdown_report_shows_the_payloads_as_text_and_renders_no_tag_from_them(hostile_run):
  output_dir, _ = hostile_run
  files = _markdown_files(output_dir)
  # The Evaluator's report.md and Markdown artifact, the DataReport's artifact and the model card.
  assert len(files) >= 4, files
  for path in files:
    with open(path, encoding='utf-8') as handle:
      rendered = _rendered(handle.read())
    assert 'script' not in rendered.tags, path
    assert not [name for name in rendered.attributes if name.startswith('on')], (path, rendered.attributes)
    # The reports' own images (heatmaps, the confusion matrix) stay; the payloads' do not appear.
    assert not rendered.image_sources & {'x', 'y'}, path
    text = ''.join(rendered.text)
    if path.endswith(names.REPORT_MARKDOWN_FILE) or path.endswith(names.MODEL_CARD_MARKDOWN_FILE):
      assert HOSTILE_LABELS['zero'] in text and HOSTILE_LABELS['one'] in text, path
    if path.endswith(names.REPORT_MARKDOWN_FILE):
      assert HOSTILE_SLICE in text, path
