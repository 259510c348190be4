"""Pusher to a TF Serving directory: checks the SavedModel answers a real image, then pushes it atomically.

TFX's own Pusher copies straight into the version folder, so a server polling the directory can load a
half-copied model, and it pushes whatever it is given. This one keeps TFX's PushedModel artifact and its
properties (pushed, pushed_destination, pushed_version), and adds the check, the staging, and models.config.
Each version folder also gets the TFLite models (components/pusher/tflite.py) and the model card
(components/pusher/model_card.py), written in the staging folder so that they arrive with the version.
"""
import dataclasses
import functools
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from absl import logging
from tfx import types
from tfx.components.pusher import executor as tfx_pusher_executor
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils
from tfx.types import component_spec
from tfx.types import standard_artifacts
from tfx.utils import json_utils

from components import evaluation_results
from components import executor_settings
from components import features
from components import names
from components import paths
from components import pixel_model
from components import serving_dir
from components.pusher import model_card
from components.pusher import push
from components.pusher import tflite

SERVING_DIR = 'serving_dir'
SETTINGS = 'settings'
CHECK_SPLIT = 'test'


@dataclasses.dataclass(frozen=True)
class PusherSettings:
  """The Pusher's settings as one JSON execution property; the serving directory, a Kubeflow runtime parameter,
  stays one of its own."""
  model_name: str
  class_names: Tuple[str, ...]
  serving_base_path: str = ''  # where the server sees the serving directory, for models.config; '': the same
  tflite_quantize: bool = False


class ModelCheckError(RuntimeError):
  """The model is not what serving clients expect; it is not pushed."""


def _signature_error(signature, labels: Sequence[str]) -> List[str]:
  """What differs from the serving contract: one string image input, probabilities/class outputs."""
  problems = []
  inputs = signature.structured_input_signature[1]
  if set(inputs) != {features.SERVING_INPUT} or inputs[features.SERVING_INPUT].dtype != tf.string:
    problems.append(f'serving_default inputs are {inputs}, expected one string tensor '
                    f'{features.SERVING_INPUT!r}')
  outputs = signature.structured_outputs
  expected = {features.PROBABILITIES: tf.float32, features.CLASS_INDEX: tf.int64,
              features.CLASS_NAME: tf.string}
  for name, dtype in expected.items():
    if name not in outputs or outputs[name].dtype != dtype:
      problems.append(f'serving_default output {name!r} missing or not {dtype.name}')
  probabilities = outputs.get(features.PROBABILITIES)
  if probabilities is not None and probabilities.shape[-1] != len(labels):
    problems.append(f'{features.PROBABILITIES} has {probabilities.shape[-1]} classes, the labels file '
                    f'{len(labels)}')
  return problems


def check_saved_model(saved_model_dir: str, image_bytes: bytes, labels: Sequence[str]) -> None:
  """Loads the SavedModel in this process and asks serving_default about a real image.

  Raises ModelCheckError naming every problem: a missing signature, outputs of the wrong type or size,
  probabilities that are not a distribution, or a class name outside the labels file.
  """
  try:
    loaded = tf.saved_model.load(saved_model_dir)
  except Exception as error:  # any load failure means the server would fail too
    raise ModelCheckError(f'{saved_model_dir} does not load as a SavedModel: {error}') from error
  if 'serving_default' not in loaded.signatures:
    raise ModelCheckError(f'{saved_model_dir} has no serving_default signature '
                          f'(has {sorted(loaded.signatures)})')
  signature = loaded.signatures['serving_default']
  problems = _signature_error(signature, labels)
  if not problems:
    answer = signature(**{features.SERVING_INPUT: tf.constant([image_bytes])})
    probabilities = answer[features.PROBABILITIES].numpy()
    class_name = answer[features.CLASS_NAME].numpy()[0].decode()
    if probabilities.shape != (1, len(labels)) or not np.all(np.isfinite(probabilities)):
      problems.append(f'probabilities of shape {probabilities.shape} with non-finite values')
    elif probabilities.min() < 0 or abs(probabilities.sum() - 1.0) > 1e-3:
      problems.append(f'probabilities are not a distribution (min {probabilities.min()}, sum '
                      f'{probabilities.sum()})')
    if class_name not in labels:
      problems.append(f'class name {class_name!r} is not in the labels file')
  if problems:
    raise ModelCheckError(f'{saved_model_dir} fails the serving check: ' + '; '.join(problems))


def first_image(examples: types.Artifact, split: str = CHECK_SPLIT) -> bytes:
  """The encoded image of the first example in a split: a real input the pipeline has already accepted."""
  pattern = os.path.join(artifact_utils.get_split_uri([examples], split), '*')
  files = sorted(tf.io.gfile.glob(pattern))
  compression = paths.record_compression(files[0]) if files else ''
  for record in tf.data.TFRecordDataset(files, compression_type=compression).take(1):
    return tf.train.Example.FromString(record.numpy()).features.feature[features.IMAGE].bytes_list.value[0]
  raise ModelCheckError(f'no example in {pattern} to check the model with')


def _write(path: str, content) -> int:
  with tf.io.gfile.GFile(path, 'wb' if isinstance(content, bytes) else 'w') as handle:
    handle.write(content)
  return len(content)


def write_tflite(saved_model_dir: str, folder: str, quantize: bool) -> Dict[str, int]:
  """The TFLite models into `folder`: {file name: bytes}."""
  classifier = pixel_model.load(saved_model_dir)
  sizes = {names.TFLITE_FILE: _write(os.path.join(folder, names.TFLITE_FILE), tflite.convert(classifier))}
  if quantize:
    sizes[names.TFLITE_QUANTIZED_FILE] = _write(os.path.join(folder, names.TFLITE_QUANTIZED_FILE),
                                                tflite.convert(classifier, quantize=True))
  return sizes


def data_facts(examples: types.Artifact) -> model_card.DataFacts:
  return model_card.DataFacts(
      span=examples.span,
      accepted_per_split={split: examples.get_int_custom_property(names.accepted_rows_in(split))
                          for split in artifact_utils.decode_split_names(examples.split_names)},
      rejected=examples.get_int_custom_property(names.REJECTED_ROWS),
      rejects_uri=examples.get_string_custom_property(names.REJECTS_URI))


def _same_dir(first: Optional[str], second: Optional[str]) -> bool:
  return (first or '').rstrip('/') == (second or '').rstrip('/')


def not_pushed_reason(blessing: types.Artifact, production: Optional[str], copy: Optional[str]) -> Optional[str]:
  """Why a blessed model is not pushed, or None: its blessing names another model in production than the newest
  version now, or the model is an older version already (`copy`)."""
  compared_with = blessing.get_string_custom_property(names.BASELINE_VERSION_DIR) or None
  if not _same_dir(compared_with, production):
    return (f'the blessing was computed against {compared_with or "no model in production"}, but '
            f'{production or "no model"} is in production now; run again to evaluate against it')
  if copy:
    return (f'the model is version {copy} already, older than {production} which TF Serving '
            f'serves; to roll back, remove the newer versions')
  return None


@dataclasses.dataclass(frozen=True)
class Candidate:
  """The checked, blessed model about to be pushed, and the artifacts its model card describes."""
  saved_model_dir: str
  model: types.Artifact
  blessing: types.Artifact
  examples: types.Artifact
  evaluation: Optional[types.Artifact]
  production: Optional[str]  # the newest version before the push, which the blessing was computed against
  pipeline_run_id: Optional[str]


def write_version_extras(candidate: Candidate, settings: PusherSettings, folder: str, version: int) -> None:
  """The TFLite models and the model card, into the version's staging folder (push.push_version's write_extras)."""
  try:
    tflite_sizes, tflite_note = write_tflite(candidate.saved_model_dir, folder, settings.tflite_quantize), ''
  except pixel_model.NotPipelineModelError as error:
    logging.warning('Pusher: no TFLite model: %s', error)
    tflite_sizes, tflite_note = {}, str(error)
  for file_name, text in model_card.render(card_facts(candidate, settings, version, tflite_sizes,
                                                      tflite_note)).items():
    _write(os.path.join(folder, file_name), text)


def card_facts(candidate: Candidate, settings: PusherSettings, version: int, tflite_sizes: Dict[str, int],
               tflite_note: str) -> model_card.CardFacts:
  """What the model card of the pushed version says, from the artifacts of the run that made it."""
  model, blessing, evaluation = candidate.model, candidate.blessing, candidate.evaluation
  return model_card.CardFacts(
      model_name=settings.model_name, version=version, labels=list(settings.class_names),
      training=pixel_model.read_training_record(candidate.saved_model_dir),
      model_choice=model.get_string_custom_property(names.MODEL_CHOICE),
      warm_start=model.get_string_custom_property(names.WARM_START),
      data=data_facts(candidate.examples),
      decision=model_card.Decision(True, json_utils.loads(
          blessing.get_string_custom_property(names.BLESSING_REASONS) or '[]'), candidate.production or ''),
      lineage=model_card.Lineage(candidate.pipeline_run_id, model.uri, candidate.examples.uri,
                                 evaluation.uri if evaluation else None, blessing.uri),
      tflite_bytes=tflite_sizes, tflite_note=tflite_note,
      metric_values=evaluation_results.load_metric_values(evaluation.uri) if evaluation else None)


class Executor(tfx_pusher_executor.Executor):
  """Checks, then pushes a blessed model; an unblessed one is recorded as not pushed.

  A blessing holds only against the model in production it was computed against: a cached Evaluator
  (its inputs unchanged) keeps its old verdict although production has moved on since. So the Pusher
  reads the newest version again and pushes only if it is the one the blessing names. A model whose
  bytes are already the newest version (a push whose run was killed before it was recorded) is
  recorded as pushed under that version and not copied again.
  """

  def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    settings = executor_settings.from_json(PusherSettings, exec_properties[SETTINGS])
    pushed_model = artifact_utils.get_single_instance(output_dict[names.PUSHED_MODEL])
    if not self.CheckBlessing(input_dict):
      self._MarkNotPushed(pushed_model)
      return
    saved_model_dir = self.GetModelPath(input_dict)
    model_dir = os.path.join(exec_properties[SERVING_DIR], settings.model_name)
    production = serving_dir.newest_version_dir(model_dir)
    copy = serving_dir.version_with_content(saved_model_dir, model_dir)
    if copy is not None and copy == production:
      logging.info('Pusher: %s is already the newest version %s: not copied again', saved_model_dir, production)
      pushed_model.set_int_custom_property(names.ALREADY_SERVED, 1)
      self._MarkPushed(pushed_model, pushed_destination=production, pushed_version=os.path.basename(production))
      return
    blessing = artifact_utils.get_single_instance(input_dict['model_blessing'])
    reason = not_pushed_reason(blessing, production, copy)
    if reason:
      logging.warning('Pusher: not pushed: %s', reason)
      pushed_model.set_string_custom_property(names.NOT_PUSHED_REASON, reason)
      self._MarkNotPushed(pushed_model)
      return
    candidate = self._candidate(input_dict, saved_model_dir, blessing, production)
    check_saved_model(saved_model_dir, first_image(candidate.examples), settings.class_names)
    version_dir = push.push_version(saved_model_dir, model_dir,
                                    write_extras=functools.partial(write_version_extras, candidate, settings))
    serving_dir.write_models_config(exec_properties[SERVING_DIR], settings.serving_base_path or None)
    self._MarkPushed(pushed_model, pushed_destination=version_dir,
                     pushed_version=os.path.basename(version_dir))

  def _candidate(self, input_dict: Dict[str, List[types.Artifact]], saved_model_dir: str,
                 blessing: types.Artifact, production: Optional[str]) -> Candidate:
    return Candidate(
        saved_model_dir=saved_model_dir, model=artifact_utils.get_single_instance(input_dict[names.MODEL]),
        blessing=blessing, examples=artifact_utils.get_single_instance(input_dict[names.EXAMPLES]),
        evaluation=(input_dict.get(names.EVALUATION) or [None])[0], production=production,
        pipeline_run_id=self._context.pipeline_run_id if self._context else None)


class ServingPusherSpec(component_spec.ComponentSpec):
  PARAMETERS = {
      SERVING_DIR: component_spec.ExecutionParameter(type=str),
      SETTINGS: component_spec.ExecutionParameter(type=str),
  }
  INPUTS = {
      'model': component_spec.ChannelParameter(type=standard_artifacts.Model),
      'model_blessing': component_spec.ChannelParameter(type=standard_artifacts.ModelBlessing),
      'examples': component_spec.ChannelParameter(type=standard_artifacts.Examples),
      'evaluation': component_spec.ChannelParameter(type=standard_artifacts.ModelEvaluation, optional=True),
  }
  OUTPUTS = {'pushed_model': component_spec.ChannelParameter(type=standard_artifacts.PushedModel)}


class ServingPusher(base_component.BaseComponent):
  """Pushes a blessed model to `<serving_dir>/<model_name>/<version>/` and updates models.config.

  `examples` (ExampleGen's output) supplies the real image the model must answer before it is pushed, and the
  data facts of the model card; `evaluation` (the Evaluator's), its metrics. `tflite_quantize` adds the
  dynamic-range quantized TFLite model to the float one.
  """
  SPEC_CLASS = ServingPusherSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

  def __init__(self, model, model_blessing, examples, serving_dir: str, model_name: str,
               class_names: Sequence[str], serving_base_path: str = '', evaluation=None,
               tflite_quantize: bool = False):
    super().__init__(spec=ServingPusherSpec(
        model=model, model_blessing=model_blessing, examples=examples, evaluation=evaluation,
        serving_dir=serving_dir, settings=executor_settings.to_json(PusherSettings(
            model_name=model_name, class_names=tuple(class_names), serving_base_path=serving_base_path,
            tflite_quantize=bool(tflite_quantize))),
        pushed_model=types.Channel(type=standard_artifacts.PushedModel)))
