"""The embedded sample: real JPEGs in the 5-flowers layout, written once."""
import csv
import os

from PIL import Image

from pipeline import sample_data


def test_sample_set_is_real_jpegs_in_the_five_flowers_layout(small_digits):
  csv_path, labels_path = small_digits
  with open(labels_path) as handle:
    labels = handle.read().split()
  assert labels == list(sample_data.CLASS_NAMES)
  with open(csv_path, newline='') as handle:
    rows = list(csv.reader(handle))
  assert len(rows) == 120
  assert {label for _, label in rows} == set(labels)  # all ten classes appear in the first 120 scans
  for relative_path, label in rows[:10]:
    assert relative_path.split(os.sep)[0] == label  # class folders
    with Image.open(os.path.join(os.path.dirname(csv_path), relative_path)) as image:
      assert (image.format, image.size) == ('JPEG', (32, 32))
      assert image.getextrema()[1] > 128  # ink, not a blank page


def test_materialising_again_reuses_a_complete_set(small_digits):
  csv_path, _ = small_digits
  before = os.stat(csv_path).st_mtime_ns
  assert sample_data.materialize_digits(os.path.dirname(csv_path), limit=120)[0] == csv_path
  assert os.stat(csv_path).st_mtime_ns == before
