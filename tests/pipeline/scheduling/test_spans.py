"""The newest span of a data pattern, as TFX's ExampleGen driver picks it, and when its files have settled."""
import os

import pytest
from tfx.components.example_gen import utils as example_gen_utils
from tfx.proto import example_gen_pb2

from pipeline.scheduling import spans as spans_lib


def _write(path, text='a,b\n'):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w') as handle:
    handle.write(text)


def _tfx_span(input_base, pattern):
  _, span, _ = example_gen_utils.calculate_splits_fingerprint_span_and_version(
      input_base, [example_gen_pb2.Input.Split(name='all', pattern=pattern)])
  return span


@pytest.mark.parametrize('layout, pattern', [
    (['span-1/labels.csv', 'span-12/labels.csv', 'span-3/labels.csv', 'other/labels.csv'], 'span-{SPAN}/labels.csv'),
    (['2026-11-30/l.csv', '2026-12-02/l.csv', '2026-12-01/l.csv'], '{YYYY}-{MM}-{DD}/l.csv'),
    (['labels-7.csv', 'labels-9.csv', 'labels.csv'], 'labels-{SPAN}.csv'),
])
def test_the_newest_span_is_the_one_tfx_reads(tmp_path, layout, pattern):
  for path in layout:
    _write(str(tmp_path / path))
  span = spans_lib.newest_span(str(tmp_path / pattern))
  assert span.number == _tfx_span(str(tmp_path), pattern)
  assert len(span.files) == 1 and os.path.exists(span.files[0])


def test_a_pattern_matching_nothing_has_no_span(tmp_path):
  assert spans_lib.newest_span(str(tmp_path / 'span-{SPAN}/labels.csv')) is None
  assert spans_lib.is_pattern('/d/span-{SPAN}/l.csv') and not spans_lib.is_pattern('/d/l.csv')


def test_a_span_settles_once_its_folder_stops_changing(tmp_path):
  _write(str(tmp_path / 'span-1/labels.csv'))
  watch = spans_lib.SettleWatch(settle_s=10)
  span = spans_lib.newest_span(str(tmp_path / 'span-{SPAN}/labels.csv'))
  assert not watch.settled(span, 100)
  assert watch.settled(span, 110)
  _write(str(tmp_path / 'span-1/images/0.png'), 'more bytes')  # an image still being copied in
  assert not watch.settled(span, 111)
  assert not watch.settled(span, 120) and watch.settled(span, 121)
