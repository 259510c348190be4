"""Transform's outputs for training tests: the data half of the DAG (ExampleGen to Transform) on LocalDagRunner."""
import csv
import os

import numpy as np
from PIL import Image
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from pipeline import config as config_lib
from pipeline import pipeline as pipeline_lib
from pipeline import sample_data
from pipeline.inspect import runs as runs_lib


def run_data_half(csv_path: str, labels_path: str, root: str) -> config_lib.PipelineConfig:
  """Runs ExampleGen through Transform over the set into `root`/out; returns the config (pipeline_root inside)."""
  config = config_lib.load_config(overrides={'output_dir': os.path.join(root, 'out'), 'data_csv': csv_path,
                                             'labels_file': labels_path})
  os.makedirs(config.output_dir)
  LocalDagRunner().run(tfx_pipeline.Pipeline(
      pipeline_name='upstream', pipeline_root=config.pipeline_root,
      components=pipeline_lib.create_data_components(config, pipeline_lib.read_class_labels(config)),
      metadata_connection_config=runs_lib.sqlite_connection_config(config.metadata_path)))
  return config


def tinted_digits(target_dir: str, limit: int):
  """(csv_path, labels_path) of the first `limit` digit scans, each drawn in a colour of its own on white: small
  colour images, for which the model's defaults turn augmentation on."""
  grey_csv, labels_path = sample_data.materialize_digits(os.path.join(target_dir, 'grey'), limit=limit)
  rng = np.random.default_rng(0)
  rows = []
  with open(grey_csv, newline='') as handle:
    for relative, label in csv.reader(handle):
      scan = np.asarray(Image.open(os.path.join(os.path.dirname(grey_csv), relative)), np.float32)[..., None] / 255
      ink = rng.uniform(0, 255, 3)
      tinted = (255 * (1 - scan) + ink * scan).astype(np.uint8)
      os.makedirs(os.path.join(target_dir, label), exist_ok=True)
      Image.fromarray(tinted, 'RGB').save(os.path.join(target_dir, relative), quality=95)
      rows.append((relative, label))
  csv_path = os.path.join(target_dir, 'all_data.csv')
  with open(csv_path, 'w', newline='') as handle:
    csv.writer(handle).writerows(rows)
  return csv_path, labels_path
