"""ScoreSpan: after the Pusher, the model in production scores an unlabelled span, as TFX's BulkInferrer would.

TFX's BulkInferrer takes its model from a Model artifact and its images from Examples; the images to score
here arrive as files (a CSV, a folder or a pattern) that ExampleGen never reads, and the model is the one in
production: the newest version in the serving directory, read there as the Evaluator reads its baseline, so
no Resolver is needed and the step runs the same on LocalDagRunner and on Kubeflow. The scoring is
components/batch_inference/scoring.py, the same Beam pipeline as `visionflow batch-predict`, written into the
InferenceResult artifact.
"""
import dataclasses
import os
from typing import Any, Dict, List

from tfx import types
from tfx.dsl.components.base import base_beam_component
from tfx.dsl.components.base import base_beam_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils
from tfx.types import component_spec
from tfx.types import standard_artifacts

from components import compat
from components import executor_settings
from components import names
from components import pixel_model
from components.batch_inference import scoring
from components.image_limits import ImageLimits
from components import serving_dir

SERVING_DIR = 'serving_dir'
SETTINGS = 'settings'
# The images' fingerprint when the pipeline was built (scoring.source_fingerprint). Unused by the executor: it
# keys TFX's cache, so that new images at the same path are scored. (The Kubeflow compiler turns the step's
# cache off instead, as one compiled spec serves every scheduled run.)
IMAGES_FINGERPRINT = 'images_fingerprint'


@dataclasses.dataclass(frozen=True)
class SpanScoring:
  """What to score and how."""
  images: str  # a CSV, a folder of images or a glob pattern, where the step's pod can read it
  top_k: int = 3
  batch_size: int = 64
  max_image_pixels: int = ImageLimits.max_pixels
  max_image_bytes: int = ImageLimits.max_bytes
  max_aspect_ratio: float = ImageLimits.max_aspect_ratio

  def limits(self) -> ImageLimits:
    return ImageLimits(max_pixels=self.max_image_pixels, max_bytes=self.max_image_bytes,
                       max_aspect_ratio=self.max_aspect_ratio, image_size=None)


@dataclasses.dataclass(frozen=True)
class ScoreSpanSettings:
  """The step's settings as one JSON execution property; the serving directory, a Kubeflow runtime parameter,
  stays one of its own."""
  model_name: str
  scoring: SpanScoring


class Executor(base_beam_executor.BaseBeamExecutor):
  """Scores the span with the model in production; records the model and the counts on the artifact."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    settings = executor_settings.from_json(ScoreSpanSettings, exec_properties[SETTINGS])
    span = settings.scoring
    model_dir = os.path.join(exec_properties[SERVING_DIR], settings.model_name)
    production = serving_dir.newest_version_dir(model_dir)
    if production is None:
      raise compat.RecordedFailure(f'no model in production under {model_dir} to score {span.images} with', {})
    pixel_model.training_record(production)  # a model from elsewhere fails here, not in a Beam worker
    scoring.check_sources([span.images])
    result = artifact_utils.get_single_instance(output_dict[names.INFERENCE_RESULT])
    with self._make_beam_pipeline() as pipeline:
      scoring.score(pipeline, [span.images], scoring.ScoringSettings(
          production, result.uri, span.limits(), span.top_k, span.batch_size))
    summary = scoring.Summary.read(result.uri)
    result.set_string_custom_property(names.SCORED_MODEL, production)
    result.set_string_custom_property(names.SCORED_IMAGES, span.images)
    result.set_int_custom_property(names.SCORED_ROWS, summary.rows)
    result.set_int_custom_property(names.PREDICTED_ROWS, summary.predicted)
    result.set_int_custom_property(names.FAILED_ROWS, summary.errors)


class ScoreSpanSpec(component_spec.ComponentSpec):
  PARAMETERS = {
      SERVING_DIR: component_spec.ExecutionParameter(type=str),
      SETTINGS: component_spec.ExecutionParameter(type=str),
      IMAGES_FINGERPRINT: component_spec.ExecutionParameter(type=str, optional=True),
  }
  INPUTS = {names.PUSHED_MODEL: component_spec.ChannelParameter(type=standard_artifacts.PushedModel)}
  OUTPUTS = {names.INFERENCE_RESULT: component_spec.ChannelParameter(type=standard_artifacts.InferenceResult)}


class ScoreSpan(base_beam_component.BaseBeamComponent):
  """Scores `settings.images` with the newest version under `<serving_dir>/<model_name>` once the Pusher is done.

  `pushed_model` orders the step after the Pusher, so a model pushed by this run scores the span.
  """
  SPEC_CLASS = ScoreSpanSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

  def __init__(self, pushed_model, serving_dir: str, model_name: str, settings: SpanScoring,
               images_fingerprint: str = ''):
    super().__init__(spec=ScoreSpanSpec(
        pushed_model=pushed_model, serving_dir=serving_dir,
        settings=executor_settings.to_json(ScoreSpanSettings(model_name=model_name, scoring=settings)),
        images_fingerprint=images_fingerprint,
        inference_result=types.Channel(type=standard_artifacts.InferenceResult)))
