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
