"""The tf.Transform preprocessing: pixels and label indices, on real JPEG bytes."""
import io
import os

import numpy as np
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from PIL import Image
from tensorflow_transform.tf_metadata import dataset_metadata
from tensorflow_transform.tf_metadata import schema_utils

from components.example_gen import image_rows
from components import executor_settings
from components import images
from components import features
from components.transform import preprocessing

LABELS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine']


def _jpeg(width, height, colour):
  buffer = io.BytesIO()
  Image.new('RGB', (width, height), colour).save(buffer, format='JPEG', quality=95)
  return buffer.getvalue()


def test_unknown_label_maps_to_minus_one_and_known_ones_follow_the_labels_file():
  indices = preprocessing.label_to_index(tf.constant([[b'two'], [b'zero'], [b'dandelion']]), LABELS)
  assert indices.numpy().tolist() == [2, 0, -1]


def test_preprocessing_fn_under_tf_transform_on_real_jpeg_bytes(small_digits, tmp_path):
  csv_path, _ = small_digits
  rows = list(image_rows.read_rows(csv_path))[:20]
  raw_data = []
  for row in rows:
    with open(images.resolve_image_path(os.path.dirname(csv_path), row.path), 'rb') as handle:
      raw_data.append({features.IMAGE: [handle.read()], features.LABEL: [row.label.encode()]})
  raw_metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec({
      features.IMAGE: tf.io.FixedLenFeature([1], tf.string),
      features.LABEL: tf.io.FixedLenFeature([1], tf.string),
  }))
  custom_config = executor_settings.to_json_dict(preprocessing.PreprocessingSettings(tuple(LABELS), image_size=24))

  with tft_beam.Context(temp_dir=str(tmp_path)):
    (transformed, _), _ = ((raw_data, raw_metadata) | tft_beam.AnalyzeAndTransformDataset(
        lambda inputs: preprocessing.preprocessing_fn(inputs, custom_config)))

  assert len(transformed) == len(rows)
  for row, output in zip(rows, transformed):
    pixels = np.asarray(output[features.PIXELS]).reshape(24, 24, 3)
    assert 0.0 <= pixels.min() and pixels.max() <= 1.0 and pixels.max() > 0.5  # real ink, scaled
    assert np.allclose(pixels[..., 0], pixels[..., 2])  # grayscale scans decoded to equal RGB channels
    assert output[features.LABEL_INDEX] == LABELS.index(row.label)
