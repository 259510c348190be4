"""Image files for a model: the limits of components/image_limits.py applied, the header read without decoding,
the decode check and TensorFlow's decode errors in one wording.

ExampleGen, batch prediction, `visionflow predict` and `explain` all read images through here, so a file is
accepted or refused for the same reason wherever it is given to a model.
"""
import io
import os
import posixpath
import re
import stat
import struct
import warnings
from typing import List, NamedTuple, Optional, Protocol, Sequence

import numpy as np
import tensorflow as tf
from PIL import Image

from components import input_files
from components.image_limits import ImageLimits
from components import paths

_JPEG_END = b'\xff\xd9'  # the end-of-image marker
# Start-of-frame markers (baseline, extended, progressive, lossless; Huffman and arithmetic), which hold the size.
_JPEG_START_OF_FRAME = frozenset((0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF))
# What tf.io.decode_image (and so Transform and serving) can decode.
SUPPORTED_FORMATS = ('jpeg', 'png', 'gif', 'bmp')
# The files a folder given to a model (predict, explain, batch-predict) is walked for.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.gif', '.bmp')
# How TensorFlow frames a decoder's reason: the function an eager op ran in, the op, and a graph's failing node.
_DECODER_FRAMING = re.compile(r'\{\{function_node [^}]*\}\}|\[Op:[^\]]*\](?: name: .*)?$')
# Pillow's modes of images stored without colour: bilevel, grey, grey with alpha, and grey at 16 or 32 bits.
_GREY_MODES = frozenset(('1', 'L', 'LA', 'La', 'I', 'I;16', 'I;16B', 'I;16L', 'F'))
# The mean spread between a pixel's largest and smallest channel (of 255) up to which an image counts as grey:
# grey images stored as RGB JPEG decode to a spread of exactly 0; the least colourful crops of the packages'
# colour photos (a dark sky, the Hubble deep field) to 2.3 and more.
GREY_CHANNEL_SPREAD = 1.0


class RowRejected(ValueError):
  """The image (or, in ExampleGen, the row's label) cannot make an example or be given to a model; the message
  says why."""


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
    raise RowRejected(f'not a regular file ({input_files.file_kind(info.st_mode)}): '
                      f'only regular image files are read')
  return info.st_size


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
  DCT and colour conversion shrink 64-fold). tests/components/test_images.py holds the two
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


class EncodedImage(Protocol):
  """What check_pixels decodes: an image file's bytes and the format its header names."""
  data: bytes
  image_format: str


def check_pixels(images: Sequence[EncodedImage]) -> List[PixelCheck]:
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


def _check_batch_halving(images: Sequence[EncodedImage]) -> List[PixelCheck]:
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


def _check_alone(image: EncodedImage) -> PixelCheck:
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
