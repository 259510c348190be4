"""`visionflow predict`: the newest pushed version classifies files and folders, bad files reported one by one."""
import os

import pytest

from pipeline import predict


def test_newest_version_is_the_highest_complete_number_not_the_newest_name(tmp_path):
  for name in ('9', '10', '2', 'tmp-export', '11'):
    (tmp_path / name).mkdir()
    if name != '11':  # 11 has no saved_model.pb yet: a push still in progress elsewhere
      (tmp_path / name / 'saved_model.pb').write_bytes(b'')
  assert predict.newest_model_version(str(tmp_path)) == str(tmp_path / '10')


def test_no_pushed_version_says_to_run_the_pipeline(tmp_path):
  with pytest.raises(FileNotFoundError, match='run the pipeline first'):
    predict.newest_model_version(str(tmp_path / 'serving' / 'model'))


def test_folders_expand_to_their_images_in_order(tmp_path):
  (tmp_path / 'b').mkdir()
  for name in ('b/2.png', 'b/1.JPG', 'a.jpeg', 'notes.txt'):
    (tmp_path / name).write_bytes(b'')
  assert list(predict.expand_inputs([str(tmp_path), 'given.txt'])) == [
      str(tmp_path / 'a.jpeg'), str(tmp_path / 'b' / '1.JPG'), str(tmp_path / 'b' / '2.png'), 'given.txt']


@pytest.mark.timeout(120)  # a read of the pipe would block forever: the hang is the failure
def test_files_a_model_cannot_take_are_reported_and_the_rest_classified(tmp_path):
  """A named pipe, a link to /dev/zero and a file above max_image_bytes are refused from stat, unread."""
  import numpy as np
  import tensorflow as tf

  from components import image_limits
  from tests.components.pusher.test_component import LABELS
  from tests.components.pusher.test_component import _Classifier
  from tests.components.pusher.test_component import _save

  predictor = predict.Predictor(_save(tmp_path, 'model', _Classifier(LABELS)),
                                image_limits.ImageLimits(max_bytes=20_000))
  good = tf.io.encode_jpeg(np.full((20, 30, 3), 90, np.uint8)).numpy()
  (tmp_path / 'good.jpg').write_bytes(good)
  (tmp_path / 'big.jpg').write_bytes(good + b'\0' * 20_000)
  os.mkfifo(tmp_path / 'pipe.jpg')
  os.symlink('/dev/zero', tmp_path / 'zero.jpg')
  paths = [str(tmp_path / name) for name in ('pipe.jpg', 'good.jpg', 'zero.jpg', 'big.jpg')]
  results = list(predictor.predict_files(paths))
  assert [result.path for result in results] == paths
  assert results[1].class_name in LABELS and results[1].error is None
  assert [results[index].error for index in (0, 2, 3)] == [
      'not a regular file (a named pipe): only regular image files are read',
      'not a regular file (a character device): only regular image files are read',
      f'file of {len(good) + 20_000:,} bytes, above max_image_bytes=20,000']


def test_hostile_paths_and_a_truncated_jpeg_fail_alone_with_examplegens_reasons(tmp_path):
  """A NUL byte or a name that is not UTF-8 fails its file from the path, a truncated JPEG with the decoder's
  reason in ExampleGen's words; the other files are classified, and every path can be printed."""
  import numpy as np
  import tensorflow as tf

  from tests.components import image_files
  from tests.components.pusher.test_component import LABELS
  from tests.components.pusher.test_component import _Classifier
  from tests.components.pusher.test_component import _save

  predictor = predict.Predictor(_save(tmp_path, 'model', _Classifier(LABELS)))
  folder = tmp_path / 'images'
  folder.mkdir()
  (folder / 'good.jpg').write_bytes(tf.io.encode_jpeg(np.full((20, 30, 3), 90, np.uint8)).numpy())
  (folder / 'truncated.jpg').write_bytes(image_files.truncated_jpeg())
  with open(os.path.join(os.fsencode(folder), b'\xff.jpg'), 'wb') as handle:
    handle.write((folder / 'good.jpg').read_bytes())
  inputs = list(predict.expand_inputs([str(folder), str(folder / 'nul\x00byte.jpg')]))

  results = list(predictor.predict_files(inputs, batch_size=4))

  assert [result.path for result in results] == [str(folder / 'good.jpg'), str(folder / 'truncated.jpg'),
                                                 str(folder / '\\xff.jpg'), str(folder / 'nul\\x00byte.jpg')]
  assert results[0].class_name in LABELS and results[0].error is None
  assert [result.error for result in results[1:]] == [
      'corrupt or truncated jpeg data: jpeg::Uncompress failed. Invalid JPEG data or crop window.',
      'image path unusable: the path is not valid UTF-8 (it holds \\xff): rename the file with a UTF-8 name',
      'image path unusable: the path holds a NUL byte (\\x00), which no file name can hold']
