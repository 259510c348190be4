"""TFX's Trainer and Tuner, with training epochs and tuner trials as their own execution parameters.

TFX passes run settings to run_fn/tuner_fn in one `custom_config` dict, which a Kubeflow runtime parameter
can only replace whole. Here `epochs` and `tuner_trials` are plain int parameters (each can be a
RuntimeParameter); the executors fold them into custom_config, so run_fn and tuner_fn see what they always
did. Everything else is TFX's Trainer and Tuner unchanged.
"""
import dataclasses
import json
import os
from typing import Any, Dict

import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.proto import trainer_pb2
from tfx.types import component_spec
from tfx.types import artifact_utils
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs
from tfx.utils import json_utils

from components import compat
from components import model_choice
from components import names
from components.trainer.outcome import tuner_comparison
from components.trainer.outcome import TrainingOutcome

EPOCHS = compat.EPOCHS
TUNER_TRIALS = compat.TUNER_TRIALS


TUNER_RESULTS = 'tuner_results'  # the Tuner's trials, so that the model records what the Tuner compared


class TrainerSpec(standard_component_specs.TrainerSpec):
  PARAMETERS = {**standard_component_specs.TrainerSpec.PARAMETERS,
                EPOCHS: component_spec.ExecutionParameter(type=int)}
  INPUTS = {**standard_component_specs.TrainerSpec.INPUTS,
            TUNER_RESULTS: component_spec.ChannelParameter(type=standard_artifacts.TunerResults, optional=True)}


class TunerSpec(standard_component_specs.TunerSpec):
  PARAMETERS = {**standard_component_specs.TunerSpec.PARAMETERS,
                TUNER_TRIALS: component_spec.ExecutionParameter(type=int)}


class TrainerExecutor(compat.TrainerExecutor):
  """Trains, then records on the model the settings Transform chose and how its fit ended, so each model says
  what it is."""

  def Do(self, input_dict, output_dict, exec_properties):
    super().Do(input_dict, output_dict, exec_properties)
    transform_graph = artifact_utils.get_single_instance(
        input_dict[standard_component_specs.TRANSFORM_GRAPH_KEY])
    choice = model_choice.read(transform_graph.uri, tf.io.gfile.GFile)
    model = artifact_utils.get_single_instance(output_dict[standard_component_specs.MODEL_KEY])
    with tf.io.gfile.GFile(os.path.join(model.uri, names.TRAINING_OUTCOME_FILE)) as handle:
      outcome = TrainingOutcome.from_json(handle.read())
    # Where the Tuner compared the candidate backbones or augmentation on and off, the model has its pick.
    if outcome.tuned_backbone is not None:
      choice = choice.with_backbone(outcome.tuned_backbone)
    if outcome.tuned_augmentation is not None:
      choice = dataclasses.replace(choice, **dict.fromkeys(model_choice.AUGMENTATIONS, outcome.tuned_augmentation))
    description = choice.describe()
    if input_dict.get(TUNER_RESULTS):
      [results] = tf.io.gfile.glob(os.path.join(artifact_utils.get_single_uri(input_dict[TUNER_RESULTS]), '*.json'))
      with tf.io.gfile.GFile(results) as handle:
        comparison = tuner_comparison(json.load(handle))
      if comparison:
        description += f'; {comparison}'
    model.set_string_custom_property(names.MODEL_CHOICE, description)
    model.set_json_value_custom_property(names.MODEL_SETTINGS, choice.to_json())
    decision_path = os.path.join(model.uri, names.WARM_START_FILE)
    if tf.io.gfile.exists(decision_path):
      with tf.io.gfile.GFile(decision_path) as handle:
        model.set_string_custom_property(names.WARM_START, handle.read())
    model.set_string_custom_property(names.TRAINING_OUTCOME, outcome.describe())
    model.set_int_custom_property(names.EPOCHS_TRAINED, outcome.epochs_trained)


class Trainer(base_component.BaseComponent):
  """TFX's Trainer on Transform's output with a run_fn given by module path; `epochs` overrides custom_config."""
  SPEC_CLASS = TrainerSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(TrainerExecutor)

  def __init__(self, examples, transform_graph, schema, run_fn: str, train_args: trainer_pb2.TrainArgs,
               eval_args: trainer_pb2.EvalArgs, custom_config: Dict[str, Any], epochs, hyperparameters=None,
               tuner_results=None):
    super().__init__(spec=TrainerSpec(
        examples=examples, transform_graph=transform_graph, schema=schema, hyperparameters=hyperparameters,
        tuner_results=tuner_results,
        run_fn=run_fn, train_args=train_args, eval_args=eval_args,
        custom_config=json_utils.dumps(custom_config), epochs=epochs,
        model=types.Channel(type=standard_artifacts.Model),
        model_run=types.Channel(type=standard_artifacts.ModelRun)))


class Tuner(base_component.BaseComponent):
  """TFX's Tuner with a tuner_fn given by module path; `tuner_trials` overrides custom_config."""
  SPEC_CLASS = TunerSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(compat.TunerExecutor)

  def __init__(self, examples, transform_graph, tuner_fn: str, train_args: trainer_pb2.TrainArgs,
               eval_args: trainer_pb2.EvalArgs, custom_config: Dict[str, Any], tuner_trials):
    super().__init__(spec=TunerSpec(
        examples=examples, transform_graph=transform_graph, tuner_fn=tuner_fn, train_args=train_args,
        eval_args=eval_args, custom_config=json_utils.dumps(custom_config), tuner_trials=tuner_trials,
        best_hyperparameters=types.Channel(type=standard_artifacts.HyperParameters),
        tuner_results=types.Channel(type=standard_artifacts.TunerResults)))
