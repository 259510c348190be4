"""Runs TFMA on a model over an Examples artifact's splits, with a baseline on the same examples when given.

The Evaluator measures its candidate against production with it, and the production monitor measures
production alone; both then read the output through components/evaluation_results.py.
"""
from typing import List, Optional

import apache_beam as beam
import tensorflow_model_analysis as tfma
from tfx import types
from tfx.components.util import tfxio_utils
from tfx.types import artifact_utils
from tfx.utils import io_utils


def _read_examples(pipeline: beam.Pipeline, examples: List[types.Artifact], splits: List[str]):
  tfxio_factory = tfxio_utils.get_tfxio_factory_from_artifact(
      examples=examples, telemetry_descriptors=['Evaluator'],
      raw_record_column_name=tfma.constants.ARROW_INPUT_COLUMN)
  batches = []
  for split in splits:
    for index, uri in enumerate(artifact_utils.get_split_uris(examples, split)):
      batches.append(pipeline | f'Read[{split}][{index}]' >> tfxio_factory(
          io_utils.all_files_pattern(uri)).BeamSource())
  return batches | 'Flatten' >> beam.Flatten()


def evaluate(tfma_config: tfma.EvalConfig, candidate_dir: str, baseline_dir: Optional[str],
             examples: List[types.Artifact], splits: List[str], output_uri: str,
             beam_pipeline: beam.Pipeline) -> None:
  """Runs TFMA on the candidate and, when there is one, the baseline; writes to output_uri."""
  tfma_config = tfma.utils.update_eval_config_with_defaults(
      tfma_config, has_baseline=baseline_dir is not None, rubber_stamp=baseline_dir is None)
  tfma.utils.verify_eval_config(tfma_config)
  model_dirs = {spec.name: baseline_dir if spec.is_baseline else candidate_dir
                for spec in tfma_config.model_specs}
  shared_models = [tfma.default_eval_shared_model(eval_saved_model_path=path, model_name=name,
                                                  eval_config=tfma_config)
                   for name, path in model_dirs.items()]
  with beam_pipeline as pipeline:
    _ = (_read_examples(pipeline, examples, splits)
         | 'ExtractEvaluateAndWriteResults' >> tfma.ExtractEvaluateAndWriteResults(
             eval_shared_model=shared_models[0] if len(shared_models) == 1 else shared_models,
             eval_config=tfma_config, output_path=output_uri))
