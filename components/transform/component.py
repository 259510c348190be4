"""TFX's Transform, choosing first the model settings that the config leaves to the data.

The preprocessing_fn resizes every image to one size, so that size must be decided before Transform builds
its graph, from the images ExampleGen read: Transform is the first step that needs it. The executor chooses
every open value (components/model_choice.py) from ExampleGen's image statistics, passes the image size to
the preprocessing_fn in custom_config, and writes the choice next to the transform graph, where the Tuner and
the Trainer read it. Both custom_configs, the pipeline's TransformSettings and the preprocessing_fn's
PreprocessingSettings, are written and read with components/executor_settings.py. Everything else is TFX's
Transform unchanged.
"""
import dataclasses
from typing import Any, Dict, List, Tuple

import tensorflow as tf
from absl import logging
from tfx.components import Transform
from tfx.components.transform import executor as transform_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import json_utils

from components import executor_settings
from components import model_choice
from components import names
from components.transform.preprocessing import PreprocessingSettings


@dataclasses.dataclass(frozen=True)
class TransformSettings:
  """Transform's custom_config as the pipeline writes it; the executor hands the preprocessing_fn the labels
  and the image size it chose, as PreprocessingSettings."""
  labels: Tuple[str, ...]  # the class names, in labels-file order
  model_request: model_choice.ModelRequest  # the model settings as the config gives them


def image_statistics(examples: List[artifact.Artifact]) -> model_choice.ImageStatistics:
  """ExampleGen's counts of the images it accepted, over every Examples artifact Transform reads."""
  images, colour, at_least = 0, 0, {}
  for item in examples:
    images += item.get_int_custom_property(names.ACCEPTED_ROWS)
    colour += item.get_int_custom_property(names.COLOUR_IMAGES)
    for size, count in (item.get_json_value_custom_property(names.SHORTER_SIDE_AT_LEAST) or {}).items():
      at_least[size] = at_least.get(size, 0) + int(count)
  return model_choice.ImageStatistics.from_counts(images, colour, at_least)


class Executor(transform_executor.Executor):
  """Chooses the model settings, then runs TFX's Transform with the chosen image size."""

  def Do(self, input_dict: Dict[str, List[artifact.Artifact]], output_dict: Dict[str, List[artifact.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    settings = executor_settings.from_json_dict(
        TransformSettings, json_utils.loads(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY]))
    choice = model_choice.choose(settings.model_request,
                                 image_statistics(input_dict[standard_component_specs.EXAMPLES_KEY]))
    logging.info('Transform chose the model: %s', choice.describe())
    preprocessing_config = executor_settings.to_json_dict(
        PreprocessingSettings(labels=settings.labels, image_size=choice.image_size))
    super().Do(input_dict, output_dict, dict(
        exec_properties, **{standard_component_specs.CUSTOM_CONFIG_KEY: json_utils.dumps(preprocessing_config)}))
    transform_graph = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.TRANSFORM_GRAPH_KEY])
    model_choice.write(choice, transform_graph.uri, tf.io.gfile.GFile)
    transform_graph.set_string_custom_property(names.MODEL_CHOICE, choice.describe())


class ImageTransform(Transform):
  """Transform whose custom_config is a TransformSettings, as executor_settings.to_json_dict writes it."""
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
