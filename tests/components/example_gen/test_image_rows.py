"""Reading the CSV, the labels file and the images: every malformed row or image becomes a rejection with its reason."""
import hashlib
import io
import os

import pytest

from components.example_gen import image_rows
from components import features
from components import image_limits
from components import images
from components import input_files
from tests.components import image_files


def _write(path, text):
  path.write_text(text, encoding='utf-8')
  return str(path)


def _rows(csv_path, **kwargs):
  return [(row.row_number, row.path, row.label, getattr(row, 'split', None), getattr(row, 'reason', None))
          for row in image_rows.read_rows(csv_path, **kwargs)]


def test_labels_keep_file_order_and_ignore_blank_lines_and_bom(tmp_path):
  labels_file = tmp_path / 'labels.txt'
  labels_file.write_text('\ufeffdaisy\n\nroses\r\ntulips\n', encoding='utf-8')
  assert image_rows.read_labels(str(labels_file)) == ['daisy', 'roses', 'tulips']


def test_duplicate_labels_are_refused(tmp_path):
  labels_file = tmp_path / 'labels.txt'
  labels_file.write_text('a\nb\na\n')
  with pytest.raises(ValueError, match=r"listed more than once: \['a'\]"):
    image_rows.read_labels(str(labels_file))


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
  rows = list(image_rows.read_rows(csv_path))
  assert isinstance(rows[1], image_rows.Rejection) and rows[1].reason == 'duplicate of row 1 (same image path)'


def test_header_names_the_split_and_extra_columns(tmp_path):
  csv_path = _write(tmp_path / 'all.csv', 'camera,image_path,label,split\nnikon,a.jpg,daisy,test\n')
  [row] = image_rows.read_rows(csv_path, header=True)
  assert (row.row_number, row.path, row.label, row.split, row.extras) == (2, 'a.jpg', 'daisy', 'test',
                                                                          (('camera', 'nikon'),))


def test_configured_columns_name_extra_features(tmp_path):
  csv_path = _write(tmp_path / 'all.csv', 'a.jpg,daisy,site_7\n')
  [row] = image_rows.read_rows(csv_path, column_names=['image_path', 'label', 'site'])
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
    list(image_rows.read_rows(csv_path, column_names=names))



def test_example_carries_the_encoded_bytes_and_header_facts(small_digits):
  csv_path, labels_path = small_digits
  labels = image_rows.read_labels(labels_path)
  row = next(image_rows.read_rows(csv_path))
  example, content_hash = image_rows.load_example(row, labels, image_limits.ImageLimits(max_pixels=10_000))
  feature = example.features.feature
  with open(images.resolve_image_path(os.path.dirname(csv_path), row.path), 'rb') as handle:
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
  assert image_rows.size_bucket(height, width) == bucket


@pytest.mark.parametrize('image_format', ['PNG', 'GIF', 'BMP'])
def test_png_gif_bmp_are_accepted_and_their_format_recorded(tmp_path, image_format):
  (tmp_path / 'x.img').write_bytes(image_files.encoded(image_format, size=(40, 24)))
  row = image_rows.ImageRow(str(tmp_path), 1, 'x.img', 'red', extras=(('site', 'a'),))
  feature = image_rows.load_example(row, ["red"], image_limits.ImageLimits(max_pixels=10_000))[0].features.feature
  assert feature[features.FORMAT].bytes_list.value[0].decode() == image_format.lower()
  assert (feature[features.HEIGHT].int64_list.value[0], feature[features.WIDTH].int64_list.value[0]) == (24, 40)
  assert feature['site'].bytes_list.value[0] == b'a'


@pytest.mark.parametrize('content, label, limit, reason', [
    (None, 'red', 10_000, 'image file not found'),
    ('directory', 'red', 10_000, 'image file unreadable'),
    (b'', 'red', 10_000, r'empty file \(0 bytes\)'),
    (image_files.truncated_jpeg(), 'red', 10_000, 'corrupt or truncated jpeg data'),
    (image_files.corrupt_jpeg(), 'red', 10_000, 'not a readable image: no known image header'),
    (b'not an image at all', 'red', 10_000, 'not a readable image: no known image header'),
    (image_files.encoded('WEBP'), 'red', 10_000, "unsupported image format 'webp'"),
    (image_files.encoded('TIFF'), 'red', 10_000, "unsupported image format 'tiff'"),
    (image_files.encoded('JPEG', size=(40, 30)), 'red', 1_000, r'40x30 = 1200 pixels .* above the limit of 1000'),
    (image_files.png_header_only(12_000, 6_000), 'red', 50_000_000,
     '12000x6000 = 72000000 pixels declared in its header'),
    (image_files.png_header_only(100_000, 100_000), 'red', 50_000_000, 'image too large: .*decompression bomb'),
    (image_files.encoded('JPEG'), 'blue', 10_000, "label 'blue' is not in the labels file"),
])
def test_bad_images_are_rejected_with_the_reason(tmp_path, content, label, limit, reason):
  if content == 'directory':
    (tmp_path / 'x.jpg').mkdir()
  elif content is not None:
    (tmp_path / 'x.jpg').write_bytes(content)
  row = image_rows.ImageRow(str(tmp_path), 7, 'x.jpg', label)
  with pytest.raises(images.RowRejected, match=reason):
    image_rows.load_example(row, ["red"], image_limits.ImageLimits(max_pixels=limit))



def test_multi_picture_camera_jpegs_are_accepted_as_the_jpegs_tensorflow_decodes(tmp_path):
  """Pillow names a camera's multi-picture JPEG 'MPO'; TensorFlow decodes its first picture like any JPEG."""
  from PIL import Image
  buffer = io.BytesIO()
  Image.new('RGB', (40, 30), (200, 30, 30)).save(buffer, format='MPO', save_all=True,
                                                 append_images=[Image.new('RGB', (40, 30), (0, 0, 0))])
  assert Image.open(io.BytesIO(buffer.getvalue())).format == 'MPO'
  (tmp_path / 'x.jpg').write_bytes(buffer.getvalue())
  row = image_rows.ImageRow(str(tmp_path), 1, 'x.jpg', 'red')
  feature = image_rows.load_example(row, ['red'], image_limits.ImageLimits())[0].features.feature
  assert feature[features.FORMAT].bytes_list.value[0] == b'jpeg'
  assert (feature[features.HEIGHT].int64_list.value[0], feature[features.WIDTH].int64_list.value[0]) == (30, 40)



@pytest.mark.parametrize('size, limits, reason', [
    ((4000, 10), image_limits.ImageLimits(max_aspect_ratio=1000.0, image_size=32),
     r'image of 4000x10 pixels: its shorter side resizes to 0 pixels at image_size=32'),
    ((4000, 10), image_limits.ImageLimits(), r'image of 4000x10 pixels has an aspect ratio of 400.0:1, above '
                                          r'max_aspect_ratio=20'),
    ((10, 300), image_limits.ImageLimits(max_aspect_ratio=25.0), r'aspect ratio of 30.0:1'),
])
def test_images_transform_cannot_resize_are_rejected(tmp_path, size, limits, reason):
  (tmp_path / 'x.png').write_bytes(image_files.encoded('PNG', size=size))
  row = image_rows.ImageRow(str(tmp_path), 3, 'x.png', 'red')
  with pytest.raises(images.RowRejected, match=reason):
    image_rows.load_example(row, ['red'], limits)


def test_the_narrowest_image_transform_can_resize_is_accepted(tmp_path):
  """Exactly at the bound: 32 px wide and 1 px high resizes to 32x1 at image_size 32."""
  (tmp_path / 'x.png').write_bytes(image_files.encoded('PNG', size=(32, 1)))
  row = image_rows.ImageRow(str(tmp_path), 3, 'x.png', 'red')
  image_rows.load_example(row, ['red'], image_limits.ImageLimits(max_aspect_ratio=32.0, image_size=32))
  assert images.resized_shorter_side(1, 33, 32) == 0 and images.resized_shorter_side(1, 32, 32) == 1


@pytest.mark.timeout(30)  # a read of the pipe would block forever: the hang is the failure
def test_a_named_pipe_is_rejected_without_being_opened(tmp_path):
  os.mkfifo(tmp_path / 'x.jpg')
  row = image_rows.ImageRow(str(tmp_path), 2, 'x.jpg', 'red')
  with pytest.raises(images.RowRejected, match=r'not a regular file \(a named pipe\)'):
    image_rows.load_example(row, ['red'], image_limits.ImageLimits())


@pytest.mark.timeout(30)  # a read of /dev/zero never ends
def test_a_link_to_an_endless_device_is_rejected(tmp_path):
  os.symlink('/dev/zero', tmp_path / 'x.jpg')
  row = image_rows.ImageRow(str(tmp_path), 2, 'x.jpg', 'red')
  with pytest.raises(images.RowRejected, match=r'not a regular file \(a character device\)'):
    image_rows.load_example(row, ['red'], image_limits.ImageLimits())


def test_a_file_above_max_image_bytes_is_rejected_from_its_size(tmp_path):
  data = image_files.noisy_jpeg()
  (tmp_path / 'x.jpg').write_bytes(data)
  row = image_rows.ImageRow(str(tmp_path), 2, 'x.jpg', 'red')
  with pytest.raises(images.RowRejected, match=f'file of {len(data):,} bytes, above max_image_bytes=1,000'):
    image_rows.load_example(row, ['red'], image_limits.ImageLimits(max_bytes=1000))


def test_a_latin1_csv_is_refused_naming_file_line_and_byte(tmp_path):
  csv_path = tmp_path / 'all.csv'
  csv_path.write_bytes('a.jpg,daisy\ncaf\xe9.jpg,roses\n'.encode('latin-1'))
  with pytest.raises(input_files.InputFileError) as error:
    list(image_rows.read_rows(str(csv_path)))
  assert str(error.value).startswith(f'{csv_path}: line 2, byte 15: byte 0xe9 is not UTF-8')
  assert 're-save it as UTF-8' in str(error.value) and '\n' not in str(error.value)


def test_a_latin1_labels_file_is_refused_naming_file_line_and_byte(tmp_path):
  labels_path = tmp_path / 'labels.txt'
  labels_path.write_bytes('daisy\r\nroses\r\nn\xe9roli\r\n'.encode('latin-1'))
  with pytest.raises(input_files.InputFileError, match=rf'^{labels_path}: line 3, byte 15: byte 0xe9 is not UTF-8'):
    image_rows.read_labels(str(labels_path))


def test_old_mac_line_endings_are_lines(tmp_path):
  csv_path = tmp_path / 'all.csv'
  csv_path.write_bytes(''.join(f'img{index}.jpg,daisy\r' for index in range(60)).encode())
  rows = _rows(str(csv_path))
  assert len(rows) == 60 and rows[59] == (60, 'img59.jpg', 'daisy', None, None)


def test_a_huge_path_is_rejected_and_the_rest_read(tmp_path):
  csv_path = _write(tmp_path / 'all.csv', 'a.jpg,daisy\n' + 'x' * 200_000 + '.jpg,daisy\n'
                    + 'y' * 5000 + '.jpg,daisy\nb.jpg,daisy\n')
  rows = _rows(csv_path)
  assert [row[0] for row in rows] == [1, 2, 3, 4]
  assert rows[1][4].startswith('unreadable CSV row: field larger than field limit')
  assert rows[2][4] == 'image path of 5,004 characters, above the limit of 4,096'
  assert len(rows[2][1]) == 203
  assert rows[3] == (4, 'b.jpg', 'daisy', None, None)



@pytest.mark.parametrize('path', ['x/nul\x00byte.jpg', '\udcff.jpg', '\ud800.jpg', 'gs://b/\ud800.jpg'])
def test_a_path_no_file_can_have_rejects_its_row_alone(tmp_path, path):
  """os.stat, open and tf.io.gfile raise ValueError or TypeError on these paths, which would fail the run."""
  row = image_rows.ImageRow(str(tmp_path), 2, path, 'red')
  reason = r'^image path unusable: the path (holds a NUL byte|is not valid UTF-8)'
  with pytest.raises(images.RowRejected, match=reason):
    image_rows.load_example(row, ['red'], image_limits.ImageLimits())
  with pytest.raises(images.RowRejected, match=r'^image path unusable: '):
    images.read_model_input(path, image_limits.ImageLimits())


def test_a_file_whose_name_is_not_utf8_is_rejected_though_it_exists(tmp_path):
  """Python lists the file (its 0xff byte as \\udcff), but no UTF-8 example or report can hold its name."""
  (tmp_path / 'ok.jpg').write_bytes(image_files.noisy_jpeg())
  with open(os.path.join(os.fsencode(tmp_path), b'\xff.jpg'), 'wb') as handle:
    handle.write(image_files.noisy_jpeg())
  listed = sorted(os.listdir(tmp_path))
  assert listed == ['ok.jpg', '\udcff.jpg']
  image_rows.load_example(image_rows.ImageRow(str(tmp_path), 1, listed[0], 'red'), ['red'], image_limits.ImageLimits())
  with pytest.raises(images.RowRejected, match=r'not valid UTF-8 \(it holds \\xff\)'):
    image_rows.load_example(image_rows.ImageRow(str(tmp_path), 2, listed[1], 'red'), ['red'],
                            image_limits.ImageLimits())


def test_a_csv_path_with_a_nul_byte_is_refused_naming_it():
  with pytest.raises(input_files.InputFileError, match=r'^/data/all\\x00\.csv: the path holds a NUL byte'):
    list(image_rows.read_rows('/data/all\x00.csv'))
