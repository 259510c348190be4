import hashlib
import os

import pytest

from components import features
from components.example_gen import image_csv
from tests.components.example_gen import images


def _write(path, text):
  path.write_text(text, encoding='utf-8')
  return str(path)


def _rows(csv_path, **kwargs):
  return [(row.row_number, row.path, row.label, getattr(row, 'split', None), getattr(row, 'reason', None))
          for row in image_csv.read_rows(csv_path, **kwargs)]


def test_labels_keep_file_order_and_ignore_blank_lines_and_bom(tmp_path):
  labels_file = tmp_path / 'labels.txt'
  labels_file.write_text('\ufeffdaisy\n\nroses\r\ntulips\n', encoding='utf-8')
  assert image_csv.read_labels(str(labels_file)) == ['daisy', 'roses', 'tulips']


def test_duplicate_labels_are_refused(tmp_path):
  labels_file = tmp_path / 'labels.txt'
  labels_file.write_text('a\nb\na\n')
  with pytest.raises(ValueError, match=r"listed more than once: \['a'\]"):
    image_csv.read_labels(str(labels_file))


def test_bom_blank_lines_and_quoted_commas_keep_editor_line_numbers(tmp_path):
  csv_path = _write(tmp_path / 'all.csv', '\ufeffa.jpg,daisy\n\n  \n"b, c.jpg",roses\n')
  assert _rows(csv_path) == [(1, 'a.jpg', 'daisy', None, None), (4, 'b, c.jpg', 'roses', None, None)]


def test_malformed_rows_become_rejections_with_reasons(tmp_path):
  csv_path = _write(tmp_path / 'all.csv', '\n'.join([
      'a.jpg,daisy',
      'a.jpg,daisy',             # duplicate row
      './a.jpg,roses',           # another spelling of the same file, with another label
      'b.jpg',                   # too few columns
      'c.jpg,daisy,train,x',     # too many
      ',daisy',                  # no path
      'd.jpg,',                  # no label
      'e.jpg,daisy,holdout',     # unknown split
      'f.jpg,daisy,validation',  # the book's split name
  ]) + '\n')
  rows = _rows(csv_path)
  assert rows[0] == (1, 'a.jpg', 'daisy', None, None)
  assert [row[4] for row in rows[1:8]] == [
      'duplicate of row 1 (same image path)',
      'duplicate of row 1 (same image path)',
      'expected 2 or 3 columns (image_path,label[,split]), got 1',
      'expected 2 or 3 columns (image_path,label[,split]), got 4',
      'empty image path',
      'empty label',
      "unknown split 'holdout' (use one of ['eval', 'test', 'train', 'val', 'valid', 'validation'])",
  ]
  assert rows[8] == (9, 'f.jpg', 'daisy', 'eval', None)


def test_the_same_file_spelled_two_ways_is_a_duplicate(tmp_path):
  csv_path = _write(tmp_path / 'all.csv', 'a.jpg,daisy\n./a.jpg,roses\n')
  rows = list(image_csv.read_rows(csv_path))
  assert isinstance(rows[1], image_csv.Rejection) and rows[1].reason == 'duplicate of row 1 (same image path)'


def test_header_names_the_split_and_extra_columns(tmp_path):
  csv_path = _write(tmp_path / 'all.csv', 'camera,image_path,label,split\nnikon,a.jpg,daisy,test\n')
  [row] = image_csv.read_rows(csv_path, header=True)
  assert (row.row_number, row.path, row.label, row.split, row.extras) == (2, 'a.jpg', 'daisy', 'test',
                                                                          (('camera', 'nikon'),))


def test_configured_columns_name_extra_features(tmp_path):
  csv_path = _write(tmp_path / 'all.csv', 'a.jpg,daisy,site_7\n')
  [row] = image_csv.read_rows(csv_path, column_names=['image_path', 'label', 'site'])
  assert row.extras == (('site', 'site_7'),) and row.split is None


@pytest.mark.parametrize('names, message', [
    (['path', 'label'], "lack ['image_path']"),
    (['image_path', 'label', 'label'], 'column names repeat'),
    (['image_path', 'label', 'height'], "extra column name 'height'"),
    (['image_path', 'label', 'my site'], "extra column name 'my site'"),
])
def test_unusable_column_names_are_refused(tmp_path, names, message):
  csv_path = _write(tmp_path / 'all.csv', 'a.jpg,daisy,x\n')
  with pytest.raises(ValueError, match=message.replace('[', r'\[').replace(']', r'\]')):
    list(image_csv.read_rows(csv_path, column_names=names))


def test_relative_paths_resolve_against_the_csv_folder():
  assert image_csv.resolve_image_path('/data/flowers', 'daisy/1.jpg') == '/data/flowers/daisy/1.jpg'
  assert image_csv.resolve_image_path('gs://bucket/f', 'daisy/1.jpg') == 'gs://bucket/f/daisy/1.jpg'
  assert image_csv.resolve_image_path('/data', '/abs/1.jpg') == '/abs/1.jpg'
  assert image_csv.resolve_image_path('/data', 'gs://b/1.jpg') == 'gs://b/1.jpg'
  assert image_csv.parent_dir('gs://bucket/f/all.csv') == 'gs://bucket/f'


def test_example_carries_the_encoded_bytes_and_header_facts(small_digits):
  csv_path, labels_path = small_digits
  labels = image_csv.read_labels(labels_path)
  row = next(image_csv.read_rows(csv_path))
  example, content_hash = image_csv.load_example(row, labels, max_image_pixels=10_000)
  feature = example.features.feature
  with open(image_csv.resolve_image_path(os.path.dirname(csv_path), row.path), 'rb') as handle:
    image_bytes = handle.read()
  assert feature[features.IMAGE].bytes_list.value[0] == image_bytes
  assert feature[features.LABEL].bytes_list.value[0].decode() == row.label
  assert feature[features.PATH].bytes_list.value[0].decode() == row.path
  assert feature[features.FORMAT].bytes_list.value[0] == b'jpeg'
  assert (feature[features.HEIGHT].int64_list.value[0], feature[features.WIDTH].int64_list.value[0]) == (32, 32)
  assert feature[features.SIZE_BUCKET].bytes_list.value[0] == b'under_128px'
  assert content_hash == hashlib.sha256(image_bytes).hexdigest()


@pytest.mark.parametrize('height, width, bucket', [
    (32, 127, 'under_128px'), (128, 90, '128_to_511px'), (300, 511, '128_to_511px'), (512, 512, '512_to_1023px'),
    (4000, 3000, '1024px_and_over')])
def test_size_bucket_follows_the_longer_side(height, width, bucket):
  assert image_csv.size_bucket(height, width) == bucket


@pytest.mark.parametrize('image_format', ['PNG', 'GIF', 'BMP'])
def test_png_gif_bmp_are_accepted_and_their_format_recorded(tmp_path, image_format):
  (tmp_path / 'x.img').write_bytes(images.encoded(image_format, size=(40, 24)))
  row = image_csv.ImageRow(str(tmp_path), 1, 'x.img', 'red', extras=(('site', 'a'),))
  feature = image_csv.load_example(row, ['red'], max_image_pixels=10_000)[0].features.feature
  assert feature[features.FORMAT].bytes_list.value[0].decode() == image_format.lower()
  assert (feature[features.HEIGHT].int64_list.value[0], feature[features.WIDTH].int64_list.value[0]) == (24, 40)
  assert feature['site'].bytes_list.value[0] == b'a'


@pytest.mark.parametrize('content, label, limit, reason', [
    (None, 'red', 10_000, 'image file not found'),
    ('directory', 'red', 10_000, 'image file unreadable'),
    (b'', 'red', 10_000, r'empty file \(0 bytes\)'),
    (images.truncated_jpeg(), 'red', 10_000, 'corrupt or truncated jpeg data'),
    (images.corrupt_jpeg(), 'red', 10_000, 'not a readable image: no known image header'),
    (b'not an image at all', 'red', 10_000, 'not a readable image: no known image header'),
    (images.encoded('WEBP'), 'red', 10_000, "unsupported image format 'webp'"),
    (images.encoded('TIFF'), 'red', 10_000, "unsupported image format 'tiff'"),
    (images.encoded('JPEG', size=(40, 30)), 'red', 1_000, r'40x30 = 1200 pixels .* above the limit of 1000'),
    (images.png_header_only(12_000, 6_000), 'red', 50_000_000,
     '12000x6000 = 72000000 pixels declared in its header'),
    (images.png_header_only(100_000, 100_000), 'red', 50_000_000, 'image too large: .*decompression bomb'),
    (images.encoded('JPEG'), 'blue', 10_000, "label 'blue' is not in the labels file"),
])
def test_bad_images_are_rejected_with_the_reason(tmp_path, content, label, limit, reason):
  if content == 'directory':
    (tmp_path / 'x.jpg').mkdir()
  elif content is not None:
    (tmp_path / 'x.jpg').write_bytes(content)
  row = image_csv.ImageRow(str(tmp_path), 7, 'x.jpg', label)
  with pytest.raises(image_csv.RowRejected, match=reason):
    image_csv.load_example(row, ['red'], max_image_pixels=limit)
