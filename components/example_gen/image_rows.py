"""ExampleGen's rows: a CSV of `image_path,label[,split][,extra...]` rows or folders of classes, a labels
file, and each row's checked image as a tf.Example.

Pure functions over one row at a time, so the Beam executor streams them and tests call them directly.
A row that cannot become an example is never dropped: it becomes a `Rejection` with its reason.
"""
import csv
import dataclasses
import hashlib
import os
import re
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import tensorflow as tf

from components import features
from components import image_limits
from components import images
from components import input_files
from components import paths

PATH_COLUMN = 'image_path'
LABEL_COLUMN = 'label'
SPLIT_COLUMN = 'split'
DEFAULT_COLUMNS = (PATH_COLUMN, LABEL_COLUMN, SPLIT_COLUMN)
# The split names a CSV may use, mapped to ExampleGen's output splits.
SPLIT_NAMES = {'train': 'train', 'eval': 'eval', 'validation': 'eval', 'valid': 'eval', 'val': 'eval',
               'test': 'test'}
_FEATURE_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
# Longer paths are not file names (Linux's PATH_MAX); a rejected one is shown cut to _SHOWN_PATH_CHARS.
MAX_PATH_CHARS = 4096
_SHOWN_PATH_CHARS = 200


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


def read_labels(labels_file: str) -> List[str]:
  """Class names in file order (that order is the model's output order); blank lines are ignored."""
  labels = [line.strip() for line in input_files.text_lines(labels_file)]
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
                 if tf.io.gfile.isdir(images.resolve_image_path(image_folder, name)))
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
  base_dir = base_dir or images.parent_dir(csv_path)
  seen_paths: Dict[str, int] = {}
  reader = csv.reader(input_files.text_lines(csv_path))
  names = list(column_names) if column_names else None
  if header:
    names = [name.strip() for name in next(reader, [])]
    check_column_names(names, f'{csv_path} header')
  elif names:
    check_column_names(names, 'configured csv_columns')
  for row_number, cells, problem in input_files.csv_rows(reader):
    if problem:
      yield Rejection(row_number, '', '', f'unreadable CSV row: {problem}', csv_path)
    elif any(cell.strip() for cell in cells):
      yield _parse_row(csv_path, base_dir, row_number, [cell.strip() for cell in cells], names, seen_paths)



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
  location = images.resolve_image_path(base_dir, path)
  location = location if paths.is_remote(location) else os.path.normpath(location)
  if location in seen_paths:
    return reject(f'duplicate of row {seen_paths[location]} (same image path)')
  seen_paths[location] = row_number
  extras = tuple((name, values[name]) for name in expected if name not in DEFAULT_COLUMNS)
  return ImageRow(base_dir, row_number, path, label, split, extras, csv_path)


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


@dataclasses.dataclass(frozen=True)
class CheckedImage:
  """A row's image, read and checked from its header; its pixels are not decoded yet."""
  row: ImageRow
  data: bytes
  image_format: str
  height: int
  width: int
  colour: bool


def read_checked(row: ImageRow, labels: Sequence[str], limits: image_limits.ImageLimits) -> CheckedImage:
  """Reads the row's image and checks its label, file and header; raises RowRejected with the reason."""
  if row.label not in labels:
    raise images.RowRejected(f'label {row.label!r} is not in the labels file')
  image_bytes = images.read_image_bytes(images.resolve_image_path(row.base_dir, row.path), limits.max_bytes)
  return CheckedImage(row, image_bytes, *images.check_image(image_bytes, limits))


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


def load_example(row: ImageRow, labels: Sequence[str], limits: image_limits.ImageLimits,
                 verify_decode: bool = True) -> Tuple[tf.train.Example, str]:
  """One row end to end: read_checked, the decode check (with `verify_decode`), to_example.

  Raises RowRejected with the reason. ExampleGen runs the same steps on batches of rows.
  """
  image = read_checked(row, labels, limits)
  failure = images.check_pixels([image])[0].failure if verify_decode else None
  if failure:
    raise images.RowRejected(failure)
  return to_example(image)
