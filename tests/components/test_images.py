"""Image files for a model: header facts, paths, the decode check and its wording, the same wherever an image
is read."""
import io
import types

import pytest

from components import image_limits
from components import images
from tests.components import image_files


def test_relative_paths_resolve_against_the_csv_folder():
  assert images.resolve_image_path('/data/flowers', 'daisy/1.jpg') == '/data/flowers/daisy/1.jpg'
  assert images.resolve_image_path('gs://bucket/f', 'daisy/1.jpg') == 'gs://bucket/f/daisy/1.jpg'
  assert images.resolve_image_path('/data', '/abs/1.jpg') == '/abs/1.jpg'
  assert images.resolve_image_path('/data', 'gs://b/1.jpg') == 'gs://b/1.jpg'
  assert images.parent_dir('gs://bucket/f/all.csv') == 'gs://bucket/f'


def test_jpeg_headers_read_without_pillow_give_pillows_size_and_colour():
  """ExampleGen reads a JPEG's size and colour from its frame header itself; Pillow must agree on every file."""
  from PIL import Image
  exif = Image.Exif()
  exif[0x010F] = 'camera maker'
  buffer = io.BytesIO()
  Image.new('RGB', (77, 33), (10, 20, 30)).save(buffer, format='JPEG', exif=exif.tobytes(),
                                                 icc_profile=b'\0' * 3000)
  sources = [image_files.photo_jpeg(), image_files.photo_jpeg(size=(31, 250), progressive=True),
             image_files.photo_jpeg(size=(64, 48), mode='L'), buffer.getvalue()]
  for data in sources + list(image_files.corruptions(sources[0], 30)):
    try:
      with Image.open(io.BytesIO(data)) as image:
        expected = ('jpeg', image.size[1], image.size[0], image.mode != 'L')
    except Exception:  # Pillow cannot read this header either; our reader may pass it on to Pillow
      continue
    assert images.image_header(data) == expected
  assert images.image_header(buffer.getvalue()) == ('jpeg', 33, 77, True)
  assert images.image_header(sources[2]) == ('jpeg', 48, 64, False)


@pytest.mark.parametrize('jpeg', [image_files.photo_jpeg(), image_files.photo_jpeg(progressive=True),
                                  image_files.photo_jpeg(size=(64, 200), mode='L')],
                         ids=['baseline', 'progressive', 'grey'])
def test_the_reduced_jpeg_decode_rejects_exactly_what_the_full_decode_rejects(jpeg):
  """The check decodes JPEGs at 1/8 size, in batches; Transform decodes them whole, one by one. Both must
  refuse the same files."""
  import tensorflow as tf

  def refused(decode, data):
    try:
      decode(data)
    except tf.errors.OpError:
      return True
    return False

  damaged = list(image_files.corruptions(jpeg, 60))
  full = [refused(lambda data: tf.io.decode_image(data, channels=3, expand_animations=False), data)
          for data in damaged]
  assert [refused(lambda data: images.verify_pixels(data, 'jpeg'), data) for data in damaged] == full
  batched = [check.failure for check in images.check_pixels(
      [types.SimpleNamespace(data=data, image_format='jpeg') for data in damaged])]
  assert [failure is not None for failure in batched] == full
  assert all(failure.startswith('corrupt or truncated jpeg data: ') for failure in batched if failure)
  assert 5 < sum(full) < len(full)  # the damage is neither always nor never fatal


def test_a_decode_failure_reads_the_same_from_an_eager_and_a_graph_decode():
  """ExampleGen decodes eagerly, a model in a graph: both give the decoder's reason, without TensorFlow's
  framing (`{{function_node ...}}`, node and op names). tests/pipeline/test_predict.py checks a SavedModel's."""
  import tensorflow as tf

  truncated = image_files.truncated_jpeg()
  with pytest.raises(tf.errors.InvalidArgumentError) as eager:
    tf.io.decode_image(truncated, channels=3)
  with pytest.raises(tf.errors.InvalidArgumentError) as graph:
    tf.function(lambda data: tf.map_fn(lambda one: tf.io.decode_jpeg(one, channels=3), data,
                                       fn_output_signature=tf.uint8))(tf.constant([truncated]))
  assert '{{function_node' in graph.value.message and '{{function_node' in eager.value.message
  expected = 'corrupt or truncated jpeg data: jpeg::Uncompress failed. Invalid JPEG data or crop window.'
  assert images.decode_failure('jpeg', eager.value) == expected
  assert images.decode_failure('jpeg', graph.value) == expected
  header = images.check_image(truncated, image_limits.ImageLimits())
  [check] = images.check_pixels([types.SimpleNamespace(data=truncated, image_format=header.image_format)])
  assert check.failure == expected
