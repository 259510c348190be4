"""Reading the 5-flowers layout: a CSV of `image_path,label[,split][,extra...]` rows and a labels file.

Pure functions over one row at a time, so the Beam executor streams them and tests call them directly.
A row that cannot become an example is never dropped: it becomes a `Rejection` with its reason.
"""
import csv
import dataclasses
import hashlib
import io
import os
import posixpath
import re
import stat
import struct
import warnings
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf
from PIL import Image

from components import features
from components import paths

PATH_COLUMN = 'image_path'
LABEL_COLUMN = 'label'
SPLIT_COLUMN = 'split'
DEFAULT_COLUMNS = (PATH_COLUMN, LABEL_COLUMN, SPLIT_COLUMN)
# The split names a CSV may use, mapped to ExampleGen's output splits.
SPLIT_NAMES = {'train': 'train', 'eval': 'eval', 'validation': 'eval', 'valid': 'eval', 'val': 'eval',
               'test': 'test'}
_JPEG_END = b'\xff\xd9'  # the end-of-image marker
# Start-of-frame markers (baseline, extended, progressive, lossless; Huffman and arithmetic), which hold the size.
_JPEG_START_OF_FRAME = frozenset((0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF))
# What tf.io.decode_image (and so Transform and serving) can decode.
SUPPORTED_FORMATS = ('jpeg', 'png', 'gif', 'bmp')
# The files a folder given to a model (predict, explain, batch-predict) is walked for.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.gif', '.bmp')
_FEATURE_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
# Longer paths are not file names (Linux's PATH_MAX); a rejected one is shown cut to _SHOWN_PATH_CHARS.
MAX_PATH_CHARS = 4096
_SHOWN_PATH_CHARS = 200
_LINE_BREAK = re.compile(rb'\r\n|\r|\n')
# How TensorFlow frames a decoder's reason: the function an eager op ran in, the op, and a graph's failing node.
_DECODER_FRAMING = re.compile(r'\{\{function_node [^}]*\}\}|\[Op:[^\]]*\](?: name: .*)?$')
_FILE_KINDS = ((stat.S_ISFIFO, 'a named pipe'), (stat.S_ISCHR, 'a character device'),
               (stat.S_ISBLK, 'a block device'), (stat.S_ISSOCK, 'a socket'))
# Pillow's modes of images stored without colour: bilevel, grey, grey with alpha, and grey at 16 or 32 bits.
_GREY_MODES = frozenset(('1', 'L', 'LA', 'La', 'I', 'I;16', 'I;16B', 'I;16L', 'F'))
# The mean spread between a pixel's largest and smallest channel (of 255) up to which an image counts as grey:
# grey images stored as RGB JPEG decode to a spread of exactly 0; the least colourful crops of the packages'
# colour photos (a dark sky, the Hubble deep field) to 2.3 and more.
GREY_CHANNEL_SPREAD = 1.0


@dataclasses.dataclass(frozen=True)
class ImageLimits:
  """What an image file must satisfy before it becomes an example (or is sent to a model).

  `image_size` is the square Transform resizes to: an image whose shorter side would resize to 0 pixels
  there cannot become a tensor, so it is refused here instead of failing Transform for every row (None:
  no resize to check, for a model without a Transform signature).
  """
  max_pixels: int = 50_000_000       # width x height declared in the header (decompression bombs)
  max_bytes: int = 100_000_000       # file size, from stat, before anything is read
  max_aspect_ratio: float = 20.0     # longer side over shorter side
  image_size: Optional[int] = 32


@dataclasses.dataclass(frozen=True)
class ImageRow:
  base_dir: str    # the folder relative image paths resolve against: the CSV's, or the image folder
  row_number: int  # the CSV line on which the row ends, 1-based, as an editor shows it
  path: str        # as written in the CSV
  label: str
  split: Optional[str] = None  # an output split name, when the CSV names one
  extras: Tuple[Tuple[str, str], ...] = ()  # extra columns kept as string features
  csv_path: str = ''  # the CSV the row came from


@dataclasses.dataclass(frozen=True)
class Rejection:
  row_number: int
  path: str
  label: str
  reason: str
  csv_path: str = ''


class RowRejected(ValueError):
  """Raised by `read_checked` and `load_example`: the row's image or label cannot make an example."""


class InputFileError(ValueError):
  """A CSV or labels file that cannot be read as text; the message names the file, line and byte."""


def _raw_lines(handle, block_bytes: int = 1 << 20) -> Iterator[Tuple[int, bytes]]:
  """(byte offset, line without its break) for each line of a binary stream, in blocks of block_bytes.

  Lines end at \\n, \\r\\n or a lone \\r. (GFile's own line iteration splits at \\n only and drops
  every \\r, which would join all the lines of an old Mac file into one.)
  """
  pending, offset, finished = b'', 0, False
  while not finished:
    block = handle.read(block_bytes)
    finished = not block
    data, start = pending + block, 0
    for match in _LINE_BREAK.finditer(data):
      if not finished and match.end() == len(data) and data.endswith(b'\r'):
        break  # the \r may be the first half of a \r\n in the next block
      yield offset + start, data[start:match.start()]
      start = match.end()
    pending, offset = data[start:], offset + start
  if pending:
    yield offset, pending


def text_lines(path: str) -> Iterator[str]:
  """The lines of a UTF-8 text file without their line breaks (\\n, \\r\\n, or old Macs' lone \\r).

  A leading byte-order mark is dropped. Raises InputFileError for anything but a regular file (a named
  pipe would block forever), and at the first byte that is not UTF-8, naming the line and the byte offset.
  """
  problem = paths.path_problem(path)
  if problem:
    raise InputFileError(f'{paths.printable(path)}: {problem}')
  if not paths.is_remote(path):
    try:
      mode = os.stat(path).st_mode
    except FileNotFoundError:
      raise InputFileError(f'{path}: file not found') from None
    except OSError as error:
      raise InputFileError(f'{path}: unreadable: {error.strerror}') from None
    if not stat.S_ISREG(mode):
      raise InputFileError(f'{path}: not a regular file ({_file_kind(mode)})')
  try:
    with tf.io.gfile.GFile(path, 'rb') as handle:
      for line_number, (offset, raw) in enumerate(_raw_lines(handle), start=1):
        try:
          text = raw.decode('utf-8')
        except UnicodeDecodeError as error:
          raise InputFileError(
              f'{path}: line {line_number}, byte {offset + error.start}: byte 0x{raw[error.start]:02x} is not '
              f'UTF-8 (a Latin-1 or Windows-1252 file?); re-save it as UTF-8, e.g. with '
              f'iconv -f latin1 -t utf-8') from None
        yield text.lstrip('\ufeff') if offset == 0 else text
  except (tf.errors.NotFoundError, FileNotFoundError):
    raise InputFileError(f'{path}: file not found') from None


def check_text(path: str) -> None:
  """Reads the whole file once as UTF-8 text: an encoding error then stops a run before any row is read."""
  for _ in text_lines(path):
    pass


def read_labels(labels_file: str) -> List[str]:
  """Class names in file order (that order is the model's output order); blank lines are ignored."""
  labels = [line.strip() for line in text_lines(labels_file)]
  labels = [label for label in labels if label]
  if not labels:
    raise ValueError(f'{labels_file}: no class names found (expected one per line)')
  duplicates = sorted({label for label in labels if labels.count(label) > 1})
  if duplicates:
    raise ValueError(f'{labels_file}: class names listed more than once: {duplicates}')
  return labels


def folder_classes(image_folder: str) -> List[str]:
  """Sorted names of the sub-folders of a folder-of-classes data set: its labels, when none are given."""
  names = sorted(name.rstrip('/') for name in tf.io.gfile.listdir(image_folder)
                 if tf.io.gfile.isdir(resolve_image_path(image_folder, name)))
  if not names:
    raise ValueError(f'{image_folder}: no class sub-folders found (expected <class>/<image> files)')
  return names


def check_column_names(names: Sequence[str], source: str) -> None:
  """Column names must include image_path and label, be unique, and be usable as feature names."""
  missing = [name for name in (PATH_COLUMN, LABEL_COLUMN) if name not in names]
  if missing:
    raise ValueError(f'{source}: columns {list(names)} lack {missing}')
  if len(set(names)) != len(names):
    raise ValueError(f'{source}: column names repeat: {list(names)}')
  for name in names:
    if name not in DEFAULT_COLUMNS and (not _FEATURE_NAME.match(name) or name in features.RAW_FEATURES):
      raise ValueError(f'{source}: extra column name {name!r} must be a letter/digit/underscore name '
                       f'other than the built-in features {list(features.RAW_FEATURES)}')


def read_rows(csv_path: str, column_names: Optional[Sequence[str]] = None, header: bool = False,
              base_dir: Optional[str] = None) -> Iterator[Union[ImageRow, Rejection]]:
  """Streams the CSV: one ImageRow or Rejection per non-blank row, in file order.

  Columns are named by the header line (`header=True`), else by `column_names`, else they are
  `image_path,label` with an optional third `split` column. A path seen on an earlier row is rejected
  as a duplicate of that row. Relative paths resolve against `base_dir`, by default the CSV's folder.
  Raises ValueError only for a header or column names that cannot work.
  """
  base_dir = base_dir or parent_dir(csv_path)
  seen_paths: Dict[str, int] = {}
  reader = csv.reader(text_lines(csv_path))
  names = list(column_names) if column_names else None
  if header:
    names = [name.strip() for name in next(reader, [])]
    check_column_names(names, f'{csv_path} header')
  elif names:
    check_column_names(names, 'configured csv_columns')
  for row_number, cells, problem in csv_rows(reader):
    if problem:
      yield Rejection(row_number, '', '', f'unreadable CSV row: {problem}', csv_path)
    elif any(cell.strip() for cell in cells):
      yield _parse_row(csv_path, base_dir, row_number, [cell.strip() for cell in cells], names, seen_paths)


def csv_rows(reader) -> Iterator[Tuple[int, List[str], Optional[str]]]:
  """(line number, cells, None), or (line number, [], what is wrong) for a row the csv module refuses,
  such as a cell above its field limit; the reader goes on with the next line."""
  while True:
    try:
      cells = next(reader)
    except StopIteration:
      return
    except csv.Error as error:
      yield reader.line_num, [], f'{error} (a cell of more than {csv.field_size_limit():,} characters is no path)'
      continue
    yield reader.line_num, cells, None


def _parse_row(csv_path, base_dir, row_number, cells, names, seen_paths) -> Union[ImageRow, Rejection]:
  expected = names or DEFAULT_COLUMNS[:max(2, min(len(cells), 3))]
  path = cells[0] if cells else ''
  label = cells[1] if len(cells) > 1 else ''

  def reject(reason):
    return Rejection(row_number, path, label, reason, csv_path)

  if len(cells) != len(expected):
    wanted = ','.join(expected) if names else 'image_path,label[,split]'
    return reject(f'expected {len(expected) if names else "2 or 3"} columns ({wanted}), got {len(cells)}')
  values = dict(zip(expected, cells))
  path, label = values[PATH_COLUMN], values[LABEL_COLUMN]
  if not path:
    return reject('empty image path')
  if len(path) > MAX_PATH_CHARS:
    path = path[:_SHOWN_PATH_CHARS] + '...'
    return reject(f'image path of {len(values[PATH_COLUMN]):,} characters, above the limit of {MAX_PATH_CHARS:,}')
  if not label:
    return reject('empty label')
  split = None
  if values.get(SPLIT_COLUMN):
    split = SPLIT_NAMES.get(values[SPLIT_COLUMN].lower())
    if split is None:
      return reject(f'unknown split {values[SPLIT_COLUMN]!r} (use one of {sorted(SPLIT_NAMES)})')
  location = resolve_image_path(base_dir, path)
  location = location if paths.is_remote(location) else os.path.normpath(location)
  if location in seen_paths:
    return reject(f'duplicate of row {seen_paths[location]} (same image path)')
  seen_paths[location] = row_number
  extras = tuple((name, values[name]) for name in expected if name not in DEFAULT_COLUMNS)
  return ImageRow(base_dir, row_number, path, label, split, extras, csv_path)


def resolve_image_path(base_dir: str, image_path: str) -> str:
  """Relative paths resolve against base_dir; absolute paths and URLs (gs://...) stay as they are."""
  if paths.is_remote(image_path) or os.path.isabs(image_path):
    return image_path
  return (posixpath.join if paths.is_remote(base_dir) else os.path.join)(base_dir, image_path)


def parent_dir(path: str) -> str:
  return (posixpath.dirname if paths.is_remote(path) else os.path.dirname)(path)


class ImageHeader(NamedTuple):
  """What an image's header says, before any pixel is decoded."""
  image_format: str
  height: int
  width: int
  colour: bool  # stored with colour channels; the pixels may still be grey (check_pixels looks at them)


def _jpeg_header(image_bytes: bytes) -> Optional[ImageHeader]:
  """The header from a JPEG's start-of-frame segment, walking the segments before it; None for anything
  else, or anything unexpected, which Pillow then reads. Five times faster than Pillow, which parses every
  segment (ExampleGen reads one header per row)."""
  if not image_bytes.startswith(b'\xff\xd8'):
    return None
  position = 2
  while position + 10 <= len(image_bytes):
    if image_bytes[position] != 0xFF:
      return None
    marker = image_bytes[position + 1]
    if marker == 0xFF:  # fill byte
      position += 1
    elif marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
      position += 2
    elif marker in _JPEG_START_OF_FRAME:
      height, width, components = struct.unpack_from('>HHB', image_bytes, position + 5)
      return ImageHeader('jpeg', height, width, components > 1) if height and width and components else None
    elif marker == 0xDA or marker == 0xD9:  # the scan or the end before any frame header
      return None
    else:
      position += 2 + struct.unpack_from('>H', image_bytes, position + 2)[0]
  return None


def image_header(image_bytes: bytes) -> ImageHeader:
  """The format, size and colour read from the header alone; the pixels are not decoded."""
  header = _jpeg_header(image_bytes)
  if header is not None:
    return header
  with warnings.catch_warnings():
    warnings.simplefilter('ignore', Image.DecompressionBombWarning)
    with Image.open(io.BytesIO(image_bytes)) as image:
      width, height = image.size
      return ImageHeader((image.format or 'unknown').lower(), height, width, image.mode not in _GREY_MODES)


# (exclusive upper bound of the longer side in pixels, bucket name); larger images fall in the last name.
_SIZE_BUCKETS = ((128, 'under_128px'), (512, '128_to_511px'), (1024, '512_to_1023px'))
_LARGEST_SIZE_BUCKET = '1024px_and_over'


def size_bucket(height: int, width: int) -> str:
  """The image-size slice an image belongs to: models often do worse on thumbnails or on huge photos."""
  longer_side = max(height, width)
  return next((name for limit, name in _SIZE_BUCKETS if longer_side < limit), _LARGEST_SIZE_BUCKET)


def _bytes_feature(value: bytes) -> tf.train.Feature:
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int_feature(value: int) -> tf.train.Feature:
  return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def _file_size(location: str) -> int:
  """The size of a regular file, from stat, without opening it: a named pipe would block a reader forever
  and a link to /dev/zero never ends. Raises RowRejected for anything else."""
  try:
    if paths.is_remote(location):
      if tf.io.gfile.isdir(location):
        raise RowRejected('image file unreadable: a folder, not a file')
      return tf.io.gfile.stat(location).length
    info = os.stat(location)
  except (tf.errors.NotFoundError, FileNotFoundError):
    raise RowRejected('image file not found') from None
  except (tf.errors.OpError, OSError) as error:
    raise RowRejected(f'image file unreadable: {getattr(error, "message", None) or error}') from None
  if stat.S_ISDIR(info.st_mode):
    raise RowRejected('image file unreadable: a folder, not a file')
  if not stat.S_ISREG(info.st_mode):
    raise RowRejected(f'not a regular file ({_file_kind(info.st_mode)}): only regular image files are read')
  return info.st_size


def _file_kind(mode: int) -> str:
  default = 'a folder' if stat.S_ISDIR(mode) else 'a special file'
  return next((name for test, name in _FILE_KINDS if test(mode)), default)


def read_image_bytes(location: str, max_bytes: int) -> bytes:
  """The file's bytes, if it is a regular file of at most `max_bytes`; else RowRejected with the reason.

  Every image read (ExampleGen, predict, explain, batch prediction) starts here, so a path no file can have
  (paths.path_problem) is refused here, for its row alone, before any file system call raises on it.
  """
  problem = paths.path_problem(location)
  if problem:
    raise RowRejected(f'image path unusable: {problem}')
  size = _file_size(location)
  if size > max_bytes:
    raise RowRejected(f'file of {size:,} bytes, above max_image_bytes={max_bytes:,}')
  opener = tf.io.gfile.GFile if paths.is_remote(location) else open  # open: no per-file TensorFlow overhead
  try:
    with opener(location, 'rb') as handle:
      data = handle.read(max_bytes + 1)  # a file that grew since stat still cannot exceed the limit
  except (tf.errors.NotFoundError, FileNotFoundError):
    raise RowRejected('image file not found') from None
  except (tf.errors.OpError, OSError) as error:
    raise RowRejected(f'image file unreadable: {getattr(error, "message", None) or error}') from None
  if len(data) > max_bytes:
    raise RowRejected(f'file of more than {max_bytes:,} bytes (max_image_bytes)')
  return data


def read_model_input(location: str, limits: ImageLimits) -> bytes:
  """An image file's bytes for a model, checked as ExampleGen checks them (size, header, shape the model's
  resize can take); RowRejected with ExampleGen's reason otherwise."""
  data = read_image_bytes(location, limits.max_bytes)
  check_image(data, limits)
  return data


def resized_shorter_side(height: int, width: int, image_size: int) -> int:
  """The shorter side after tf.image.resize_with_pad to image_size, computed as TensorFlow does."""
  ratio = max(np.float32(width) / np.float32(image_size), np.float32(height) / np.float32(image_size))
  return int(np.floor(np.float32(min(height, width)) / ratio))


class PixelCheck(NamedTuple):
  """What decoding an image showed: why TensorFlow cannot decode it (None: it can), and whether its pixels hold
  colour. Many sets store grey images (scans, X-rays, black-and-white photos) as RGB: the header says colour,
  the pixels do not."""
  failure: Optional[str]
  colour: bool


def verify_pixels(image_bytes: bytes, image_format: str) -> None:
  """Decodes the image with TensorFlow's decoder, as Transform will; raises tf.errors.OpError if it cannot."""
  _channel_spread(image_bytes, image_format == 'jpeg')


def _channel_spread(image: tf.Tensor, is_jpeg) -> tf.Tensor:
  """The image decoded as Transform decodes it; the mean over its pixels of the spread between its largest and
  smallest channel (0 to 255; 0 for grey). Eager, or inside _check_batch's graph.

  A JPEG is decoded at an eighth of its size: libjpeg still reads and Huffman-decodes the whole entropy-coded
  stream, so truncated or corrupt data fails as in a full decode, at about a fifth of the cost (the inverse
  DCT and colour conversion shrink 64-fold). tests/components/example_gen/test_image_csv.py holds the two
  decodes to the same verdict on randomly corrupted files.
  """
  pixels = tf.cond(is_jpeg, lambda: tf.io.decode_jpeg(image, channels=3, ratio=8),
                   lambda: tf.io.decode_image(image, channels=3, expand_animations=False))
  return tf.reduce_mean(tf.cast(tf.reduce_max(pixels, axis=-1) - tf.reduce_min(pixels, axis=-1), tf.float32))


@tf.function(input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.bool)])
def _check_batch(images: tf.Tensor, is_jpeg: tf.Tensor) -> tf.Tensor:
  """_channel_spread of a batch in one graph call: TensorFlow decodes on all cores, without the GIL."""
  return tf.map_fn(lambda image_and_kind: _channel_spread(*image_and_kind), (images, is_jpeg),
                   fn_output_signature=tf.TensorSpec([], tf.float32), parallel_iterations=16)


def check_pixels(images: Sequence['CheckedImage']) -> List[PixelCheck]:
  """For each image, its PixelCheck. Colour: channels that spread more than GREY_CHANNEL_SPREAD on average.

  One batched decode; a batch that fails (the error does not say which image) is halved until the failing
  images stand alone, so one corrupt file costs about two more decodes of the batch. A JPEG that does not end
  with its end-of-image marker, as a cut-off download does not, is decoded on its own, so that it does not
  fail a batch. Every image is decoded either way.
  """
  cut_off = [image.image_format == 'jpeg' and not image.data.rstrip(b'\0').endswith(_JPEG_END)
             for image in images]
  whole = iter(_check_batch_halving([image for image, cut in zip(images, cut_off) if not cut]))
  return [_check_alone(image) if cut else next(whole) for image, cut in zip(images, cut_off)]


def _check_batch_halving(images: Sequence['CheckedImage']) -> List[PixelCheck]:
  if not images:
    return []
  try:
    spreads = _check_batch(tf.constant([image.data for image in images]),
                           tf.constant([image.image_format == 'jpeg' for image in images])).numpy()
    return [PixelCheck(None, float(spread) > GREY_CHANNEL_SPREAD) for spread in spreads]
  except tf.errors.OpError:
    if len(images) == 1:
      return [_check_alone(images[0])]
    middle = len(images) // 2
    return _check_batch_halving(images[:middle]) + _check_batch_halving(images[middle:])


def _check_alone(image: 'CheckedImage') -> PixelCheck:
  try:
    spread = float(_channel_spread(image.data, image.image_format == 'jpeg'))
  except tf.errors.OpError as error:
    return PixelCheck(decode_failure(image.image_format, error), False)
  return PixelCheck(None, spread > GREY_CHANNEL_SPREAD)


def decode_failure(image_format: str, error: tf.errors.OpError) -> str:
  """Why TensorFlow could not decode an image, in the one wording ExampleGen's rejects and every command that
  gives a model images use: the decoder's own reason, without TensorFlow's framing (an eager op's function,
  a graph's `Graph execution error:` and node names), which says nothing about the file."""
  lines = [_DECODER_FRAMING.sub('', line).strip() for line in error.message.splitlines()
           if not line.strip().startswith('[[')]
  reason = next((line for line in reversed(lines) if line), error.message.strip())
  return f'corrupt or truncated {image_format} data: {reason}'


def check_image(image_bytes: bytes, limits: ImageLimits) -> ImageHeader:
  """The header of an image the model's preprocessing can use; else RowRejected with why.

  The size limit is checked on the header before anything is decoded (decompression bombs); the shape
  must survive the resize to limits.image_size. The pixels are not decoded here: `check_pixels` does that.
  """
  if not image_bytes:
    raise RowRejected('empty file (0 bytes)')
  try:
    header = image_header(image_bytes)
  except Image.DecompressionBombError as error:
    raise RowRejected(f'image too large: {error}') from None
  except Image.UnidentifiedImageError:
    raise RowRejected('not a readable image: no known image header') from None
  except Exception as error:  # PIL raises many types for bad headers
    raise RowRejected(f'not a readable image: {type(error).__name__}: {error}') from None
  image_format, height, width, _ = header
  if image_format not in SUPPORTED_FORMATS:
    raise RowRejected(f'unsupported image format {image_format!r} (supported: {", ".join(SUPPORTED_FORMATS)})')
  if height * width > limits.max_pixels:
    raise RowRejected(f'image too large: {width}x{height} = {width * height} pixels declared in its header, '
                      f'above the limit of {limits.max_pixels}')
  if min(height, width) < 1:
    raise RowRejected(f'image of {width}x{height} pixels has no area')
  aspect_ratio = max(height, width) / min(height, width)
  if aspect_ratio > limits.max_aspect_ratio:
    raise RowRejected(f'image of {width}x{height} pixels has an aspect ratio of {aspect_ratio:.1f}:1, above '
                      f'max_aspect_ratio={limits.max_aspect_ratio:g}')
  if limits.image_size and resized_shorter_side(height, width, limits.image_size) < 1:
    raise RowRejected(f'image of {width}x{height} pixels: its shorter side resizes to 0 pixels at '
                      f'image_size={limits.image_size}')
  return header


@dataclasses.dataclass(frozen=True)
class CheckedImage:
  """A row's image, read and checked from its header; its pixels are not decoded yet."""
  row: ImageRow
  data: bytes
  image_format: str
  height: int
  width: int
  colour: bool


def read_checked(row: ImageRow, labels: Sequence[str], limits: ImageLimits) -> CheckedImage:
  """Reads the row's image and checks its label, file and header; raises RowRejected with the reason."""
  if row.label not in labels:
    raise RowRejected(f'label {row.label!r} is not in the labels file')
  image_bytes = read_image_bytes(resolve_image_path(row.base_dir, row.path), limits.max_bytes)
  return CheckedImage(row, image_bytes, *check_image(image_bytes, limits))


def to_example(image: CheckedImage) -> Tuple[tf.train.Example, str]:
  """(the image's tf.Example, the SHA-256 of its bytes). The example holds the encoded bytes, never pixels."""
  feature = {
      features.IMAGE: _bytes_feature(image.data),
      features.LABEL: _bytes_feature(image.row.label.encode('utf-8')),
      features.PATH: _bytes_feature(image.row.path.encode('utf-8')),
      features.FORMAT: _bytes_feature(image.image_format.encode('utf-8')),
      features.HEIGHT: _int_feature(image.height),
      features.WIDTH: _int_feature(image.width),
      features.SIZE_BUCKET: _bytes_feature(size_bucket(image.height, image.width).encode('utf-8')),
  }
  for name, value in image.row.extras:
    feature[name] = _bytes_feature(value.encode('utf-8'))
  return tf.train.Example(features=tf.train.Features(feature=feature)), hashlib.sha256(image.data).hexdigest()


def load_example(row: ImageRow, labels: Sequence[str], limits: ImageLimits,
                 verify_decode: bool = True) -> Tuple[tf.train.Example, str]:
  """One row end to end: read_checked, the decode check (with `verify_decode`), to_example.

  Raises RowRejected with the reason. ExampleGen runs the same steps on batches of rows.
  """
  image = read_checked(row, labels, limits)
  failure = check_pixels([image])[0].failure if verify_decode else None
  if failure:
    raise RowRejected(failure)
  return to_example(image)
