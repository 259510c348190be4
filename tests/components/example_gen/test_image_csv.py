import io

import pytest
from PIL import Image

from components import features
from components.example_gen import image_csv


def _write_csv(path, text):
  path.write_text(text, encoding='utf-8')
  return str(path)


def test_labels_keep_file_order_and_ignore_blank_lines_and_bom(tmp_path):
  labels_file = tmp_path / 'labels.txt'
  labels_file.write_text('\ufeffdaisy\n\nroses\r\ntulips\n', encoding='utf-8')
  assert image_csv.read_labels(str(labels_file)) == ['daisy', 'roses', 'tulips']


def test_duplicate_labels_are_refused(tmp_path):
  labels_file = tmp_path / 'labels.txt'
  labels_file.write_text('a\nb\na\n')
  with pytest.raises(ValueError, match=r"listed more than once: \['a'\]"):
    image_csv.read_labels(str(labels_file))


def test_rows_keep_line_numbers_and_quoted_commas(tmp_path):
  csv_path = _write_csv(tmp_path / 'all.csv', '\ufeffa.jpg,daisy\n\n"b, c.jpg",roses\n')
  rows = list(image_csv.read_rows(csv_path))
  assert [(row.row_number, row.path, row.label) for row in rows] == [(1, 'a.jpg', 'daisy'),
                                                                     (3, 'b, c.jpg', 'roses')]


def test_a_row_with_three_columns_names_its_line(tmp_path):
  csv_path = _write_csv(tmp_path / 'all.csv', 'a.jpg,daisy\na.jpg,daisy,extra\n')
  with pytest.raises(image_csv.ImageRowError, match=r'all.csv row 2: expected 2 columns'):
    list(image_csv.read_rows(csv_path))


def test_relative_paths_resolve_against_the_csv_folder():
  assert image_csv.resolve_image_path('/data/flowers/all.csv', 'daisy/1.jpg') == '/data/flowers/daisy/1.jpg'
  assert image_csv.resolve_image_path('gs://bucket/f/all.csv', 'daisy/1.jpg') == 'gs://bucket/f/daisy/1.jpg'
  assert image_csv.resolve_image_path('/data/all.csv', '/abs/1.jpg') == '/abs/1.jpg'
  assert image_csv.resolve_image_path('/data/all.csv', 'gs://b/1.jpg') == 'gs://b/1.jpg'


def test_example_carries_the_encoded_bytes_and_header_facts(small_digits):
  csv_path, labels_path = small_digits
  labels = image_csv.read_labels(labels_path)
  row = next(image_csv.read_rows(csv_path))
  example = image_csv.row_to_example(row, labels)
  feature = example.features.feature
  with open(image_csv.resolve_image_path(csv_path, row.path), 'rb') as handle:
    assert feature[features.IMAGE].bytes_list.value[0] == handle.read()
  assert feature[features.LABEL].bytes_list.value[0].decode() == row.label
  assert feature[features.PATH].bytes_list.value[0].decode() == row.path
  assert feature[features.FORMAT].bytes_list.value[0] == b'jpeg'
  assert (feature[features.HEIGHT].int64_list.value[0], feature[features.WIDTH].int64_list.value[0]) == (32, 32)


def test_non_square_png_reports_height_and_width(tmp_path):
  buffer = io.BytesIO()
  Image.new('RGB', (40, 24), 'red').save(buffer, format='PNG')
  (tmp_path / 'wide.png').write_bytes(buffer.getvalue())
  row = image_csv.ImageRow(str(tmp_path / 'all.csv'), 1, 'wide.png', 'red')
  feature = image_csv.row_to_example(row, ['red']).features.feature
  assert feature[features.FORMAT].bytes_list.value[0] == b'png'
  assert (feature[features.HEIGHT].int64_list.value[0], feature[features.WIDTH].int64_list.value[0]) == (24, 40)


@pytest.mark.parametrize('content, label, message', [
    (None, 'red', 'image file not found'),
    (b'not an image at all', 'red', 'not a readable image'),
    (b'', 'red', 'not a readable image'),
    (None, 'blue', "label 'blue' is not in the labels file"),
])
def test_bad_rows_name_the_csv_row_and_reason(tmp_path, content, label, message):
  if content is not None:
    (tmp_path / 'x.jpg').write_bytes(content)
  row = image_csv.ImageRow(str(tmp_path / 'all.csv'), 7, 'x.jpg', label)
  with pytest.raises(image_csv.ImageRowError, match=r"all.csv row 7 \('x.jpg'\): " + message):
    image_csv.row_to_example(row, ['red'])
