"""Reading the 5-flowers layout: a headerless CSV of `image_path,label` rows and a labels file.

Pure functions over one row at a time, so the Beam executor streams them and tests call them directly.
"""
import csv
import dataclasses
import io
import os
import posixpath
from typing import Iterator, List, Sequence

import tensorflow as tf
from PIL import Image

from components import features


class ImageRowError(ValueError):
  """A CSV row that cannot become an example; the message names the CSV, the row and the reason."""


@dataclasses.dataclass(frozen=True)
class ImageRow:
  csv_path: str
  row_number: int  # 1-based line number in the CSV
  path: str        # as written in the CSV
  label: str

  def fail(self, reason: str) -> ImageRowError:
    return ImageRowError(f'{self.csv_path} row {self.row_number} ({self.path!r}): {reason}')


def read_labels(labels_file: str) -> List[str]:
  """Class names in file order (that order is the model's output order); blank lines are ignored."""
  with tf.io.gfile.GFile(labels_file, 'r') as handle:
    labels = [line.strip() for line in handle.read().lstrip('\ufeff').splitlines()]
  labels = [label for label in labels if label]
  if not labels:
    raise ValueError(f'{labels_file}: no class names found (expected one per line)')
  duplicates = sorted({label for label in labels if labels.count(label) > 1})
  if duplicates:
    raise ValueError(f'{labels_file}: class names listed more than once: {duplicates}')
  return labels


def read_rows(csv_path: str) -> Iterator[ImageRow]:
  """Yields the CSV's data rows; a row without exactly a path and a label raises ImageRowError."""
  with tf.io.gfile.GFile(csv_path, 'r') as handle:
    for row_number, cells in enumerate(csv.reader(handle), start=1):
      if row_number == 1 and cells:
        cells[0] = cells[0].lstrip('\ufeff')
      if not any(cell.strip() for cell in cells):
        continue
      if len(cells) != 2:
        raise ImageRowError(f'{csv_path} row {row_number}: expected 2 columns (image_path,label), '
                            f'got {len(cells)}: {cells!r}')
      yield ImageRow(csv_path, row_number, cells[0].strip(), cells[1].strip())


def resolve_image_path(csv_path: str, image_path: str) -> str:
  """Relative paths resolve against the CSV's folder; absolute paths and URLs (gs://...) stay."""
  if '://' in image_path or os.path.isabs(image_path):
    return image_path
  base = os.path.dirname(csv_path)
  join = posixpath.join if '://' in base else os.path.join
  return join(base, image_path)


def image_header(image_bytes: bytes) -> Sequence:
  """(format, height, width) read from the header alone; the pixels are not decoded."""
  with Image.open(io.BytesIO(image_bytes)) as image:
    width, height = image.size
    return image.format.lower(), height, width


def _bytes_feature(value: bytes) -> tf.train.Feature:
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int_feature(value: int) -> tf.train.Feature:
  return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def row_to_example(row: ImageRow, labels: Sequence[str]) -> tf.train.Example:
  """Reads the row's image and returns its tf.Example with the encoded bytes, never decoded pixels."""
  if row.label not in labels:
    raise row.fail(f'label {row.label!r} is not in the labels file {list(labels)}')
  location = resolve_image_path(row.csv_path, row.path)
  try:
    with tf.io.gfile.GFile(location, 'rb') as handle:
      image_bytes = handle.read()
  except (tf.errors.NotFoundError, FileNotFoundError):
    raise row.fail(f'image file not found: {location}') from None
  except (tf.errors.OpError, OSError) as error:
    raise row.fail(f'image file unreadable: {location}: {error}') from None
  try:
    image_format, height, width = image_header(image_bytes)
  except Exception as error:  # PIL raises many types for bad headers
    raise row.fail(f'not a readable image: {location}: {error}') from None
  return tf.train.Example(features=tf.train.Features(feature={
      features.IMAGE: _bytes_feature(image_bytes),
      features.LABEL: _bytes_feature(row.label.encode('utf-8')),
      features.PATH: _bytes_feature(row.path.encode('utf-8')),
      features.FORMAT: _bytes_feature(image_format.encode('utf-8')),
      features.HEIGHT: _int_feature(height),
      features.WIDTH: _int_feature(width),
  }))
