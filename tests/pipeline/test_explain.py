"""`visionflow explain`: an overlay PNG per image by the newest pushed model; a file it cannot take, in one line."""
import os

import pytest
import tensorflow as tf

from pipeline import cli
from pipeline import explain
from tests.components.evaluator.test_explanations import bright_band
from tests.components.evaluator.test_explanations import png_bytes
from tests.components.evaluator.test_explanations import save_small_model


@pytest.fixture(scope='module')
def output_dir(tmp_path_factory):
  """A pipeline output folder whose serving directory holds one pushed version of a small trained model."""
  root = tmp_path_factory.mktemp('visionflow_output')
  save_small_model(str(root / 'serving' / 'image_classifier' / '1'))
  return str(root)


def test_overlays_are_named_after_their_images_and_never_replace_one_another():
  taken = set()
  assert [explain.overlay_name(path, taken) for path in ('a/band.png', 'b/band.jpg', 'c/band.png', 'd/x.y.png')] == [
      'band_explained.png', 'band_2_explained.png', 'band_3_explained.png', 'x.y_explained.png']


def test_explain_writes_an_overlay_per_image_and_one_line_for_each_file_it_cannot_take(output_dir, tmp_path, capsys):
  images = tmp_path / 'images'
  (images / 'more').mkdir(parents=True)
  (images / 'band.png').write_bytes(png_bytes(bright_band('right', 3)))
  (images / 'more' / 'band.png').write_bytes(png_bytes(bright_band('top', 4)))
  (images / 'notes.jpg').write_bytes(b'a text file named like an image')
  (images / 'truncated.png').write_bytes(png_bytes(bright_band('left', 5))[:200])  # the header is whole
  with open(os.path.join(os.fsencode(images), b'\xff.png'), 'wb') as handle:  # a name that is not UTF-8
    handle.write(png_bytes(bright_band('right', 3)))
  out = tmp_path / 'out'

  exit_code = cli.main(['explain', '--output-dir', output_dir, '--output', str(out), str(images)])

  printed = capsys.readouterr()
  lines = [line.split('\t') for line in printed.out.splitlines()]
  assert exit_code == 1
  assert [line[:2] for line in lines] == [[str(images / 'band.png'), 'right'],  # a folder's files, then its folders
                                          [str(images / 'notes.jpg'), 'ERROR'],
                                          [str(images / 'truncated.png'), 'ERROR'],
                                          [str(images / '\\xff.png'), 'ERROR'],
                                          [str(images / 'more' / 'band.png'), 'top']]
  assert [lines[0][3], lines[4][3]] == [str(out / 'band_explained.png'), str(out / 'band_2_explained.png')]
  assert 0.5 < float(lines[0][2]) <= 1.0
  assert lines[1][2] == 'not a readable image: no known image header'
  assert lines[2][2].startswith('corrupt or truncated png data: ') and 'Invalid PNG data' in lines[2][2]
  assert '{{' not in lines[2][2] and '[Op:' not in lines[2][2]  # the decoder's words, as in ExampleGen's rejects
  assert lines[3][2] == ('image path unusable: the path is not valid UTF-8 (it holds \\xff): rename the file '
                         'with a UTF-8 name')
  for name in ('band_explained.png', 'band_2_explained.png'):
    assert tf.io.decode_png((out / name).read_bytes()).shape == (128, 128, 3)
  assert 'Traceback' not in printed.err
  assert printed.err.strip() == f'model: {output_dir}/serving/image_classifier/1'


def test_explain_without_a_pushed_model_says_to_run_the_pipeline(tmp_path, capsys):
  assert cli.main(['explain', '--output-dir', str(tmp_path), str(tmp_path / 'any.jpg')]) == 2
  assert capsys.readouterr().err == (f'visionflow explain: error: no pushed model version under '
                                     f'{tmp_path}/serving/image_classifier: run the pipeline first\n')
