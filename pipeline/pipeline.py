"""The visionflow DAG: every TFX component, wired once, for every runner.

`create_pipeline` takes all environment-specific values from the config (paths, metadata, Beam args),
so the local runner and the Kubeflow compiler build the same graph.
"""
import dataclasses
from typing import Any, Dict, List, Optional

from ml_metadata.proto import metadata_store_pb2
from tfx.components import FileBasedExampleGen
from tfx.components import SchemaGen
from tfx.components import StatisticsGen
from tfx.dsl.components.base import executor_spec
from tfx.dsl.components.base.base_component import BaseComponent
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.proto import trainer_pb2
from tfx.proto import transform_pb2
from tfx.types import standard_component_specs

from components.batch_inference import component as batch_inference
from components.data_report.component import DataReport
from components.evaluator import component as evaluator_lib
from components.example_gen import executor as example_gen_executor
from components.example_gen import image_rows
from components.example_validator import component as example_validator_lib
from components import code_fingerprint
from components import executor_settings
from components import features
from components import model_choice
from components import names
from components.monitor import component as monitor_lib
from components.monitor import history as monitor_history
from components.pusher import component as pusher_lib
from components.trainer import component as training_components
from components.trainer import warm_start
from components.trainer.settings import TrainingSettings
from components.transform import component as transform_lib
from pipeline.config import PipelineConfig

PREPROCESSING_FN = 'components.transform.preprocessing.preprocessing_fn'
TUNER_FN = 'components.trainer.tuner_fn.tuner_fn'
RUN_FN = 'components.trainer.run_fn.run_fn'


def read_class_labels(config: PipelineConfig) -> List[str]:
  """The class list: the labels file, else (for an image folder) its sorted class sub-folders."""
  if config.labels_file:
    return image_rows.read_labels(config.labels_file)
  return image_rows.folder_classes(config.image_folder)


def model_request(config: PipelineConfig) -> model_choice.ModelRequest:
  """The model settings as the config gives them; Transform chooses those left unset from the data."""
  return model_choice.ModelRequest(
      image_size=config.image_size, backbone=config.backbone, weights=config.weights,
      augment_crop=config.augment_crop, augment_flip=config.augment_flip, augment_colour=config.augment_colour)


def training_settings(config: PipelineConfig, labels: List[str], production_model: str = '') -> TrainingSettings:
  """What the Tuner and the Trainer need of the config; they fill in the model Transform chose."""
  return TrainingSettings(
      labels=tuple(labels), **model_request(config).to_json(),
      fine_tune_layers=config.fine_tune_layers, fine_tune_epochs=config.fine_tune_epochs,
      batch_size=config.batch_size, epochs=config.epochs, strategy=config.strategy,
      num_workers=config.num_workers, tpu_address=config.tpu_address, tfjob_image=config.tfjob_image,
      tfjob_namespace=config.tfjob_namespace, worker_gpus=config.worker_gpus,
      node_selector=dict(config.training_node_selector), tolerations=tuple(config.training_tolerations),
      tuner=config.tuner, tuner_trials=config.tuner_trials, tuner_epochs=config.tuner_epochs,
      patience=config.patience, random_seed=config.random_seed,
      hyperparameters=dict(config.hyperparameters) or None,
      warm_start=config.warm_start, serving_model_dir=config.serving_model_dir,
      production_model=production_model if config.warm_start != warm_start.NEVER else '')


def data_input(config: PipelineConfig):
  """(input_base, input_config): the folder ExampleGen reads from, and the CSV pattern (spans) within it."""
  if config.image_folder:
    return example_gen_executor.make_folder_input_config(config.image_folder)
  return example_gen_executor.make_input_config(config.data_csv)


def create_data_components(config: PipelineConfig, labels: List[str], data_root=None,
                           range_config=None) -> List[BaseComponent]:
  """ExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator -> Transform: the data half of the DAG,
  with the DataReport beside ExampleValidator.

  `data_root` replaces the input folder (a Kubeflow RuntimeParameter: the same layout somewhere else);
  `range_config` (TFX's RangeConfig as JSON) pins the span to read instead of the newest.
  """
  input_base, input_config = data_input(config)
  example_gen = FileBasedExampleGen(
      input_base=data_root or input_base,
      range_config=range_config or None,
      input_config=input_config,
      output_config=example_gen_executor.make_output_config(
          config.train_buckets, config.eval_buckets, config.test_buckets),
      custom_config=example_gen_executor.make_custom_config(example_gen_executor.Settings(
          labels=tuple(labels),
          csv_columns=tuple(config.csv_columns) or None,
          csv_header=config.csv_header,
          max_image_pixels=config.max_image_pixels,
          max_image_bytes=config.max_image_bytes,
          max_aspect_ratio=config.max_aspect_ratio,
          image_size=config.image_size or model_choice.IMAGE_SIZES[0],
          max_reject_fraction=config.max_reject_fraction,
          shard_bytes=config.example_shard_bytes,
          layout='folder' if config.image_folder else 'csv',
          input_pattern=input_config.splits[0].pattern,
          num_spans=config.num_spans,
          code_fingerprint=code_fingerprint.fingerprint())),
      custom_executor_spec=executor_spec.BeamExecutorSpec(example_gen_executor.Executor))

  statistics_gen = StatisticsGen(examples=example_gen.outputs[names.EXAMPLES])
  schema_gen = SchemaGen(statistics=statistics_gen.outputs[names.STATISTICS], infer_feature_shape=True)
  example_validator = example_validator_lib.DriftExampleValidator(
      statistics=statistics_gen.outputs[names.STATISTICS],
      schema=schema_gen.outputs[standard_component_specs.SCHEMA_KEY],
      drift=example_validator_lib.DriftSettings(
          action=config.drift, label_threshold=config.drift_label_threshold,
          distribution_threshold=config.drift_distribution_threshold,
          slice_features=tuple(config.slice_features)),
      span_statistics_dir=config.span_statistics_dir).with_id('ExampleValidator')
  data_report = DataReport(examples=example_gen.outputs[names.EXAMPLES],
                           statistics=statistics_gen.outputs[names.STATISTICS],
                           anomalies=example_validator.outputs[names.ANOMALIES])

  transform = transform_lib.ImageTransform(
      examples=example_gen.outputs[names.EXAMPLES],
      schema=schema_gen.outputs[standard_component_specs.SCHEMA_KEY],
      preprocessing_fn=PREPROCESSING_FN,
      splits_config=transform_pb2.SplitsConfig(analyze=['train'], transform=['train', 'eval']),
      # StatisticsGen already describes the raw images; statistics of the transformed ones, a float per pixel,
      # are read by nothing and took 3.4 s of Transform's 8.2 on the embedded digits.
      disable_statistics=True,
      custom_config=executor_settings.to_json_dict(transform_lib.TransformSettings(
          labels=tuple(labels), model_request=model_request(config)))
  ).with_id('Transform')
  return [example_gen, statistics_gen, schema_gen, example_validator, data_report, transform]


def create_monitoring_pipeline(config: PipelineConfig, labels: List[str],
                               metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None
                               ) -> tfx_pipeline.Pipeline:
  """ExampleGen -> ProductionMonitor: the model in production evaluated on newly labelled images, every split.

  ExampleGen checks the new images as it checks training data; the monitor reads production from the serving
  directory and appends to the history in the pipeline root (components/monitor).
  """
  example_gen = create_data_components(config, labels)[0]
  monitor = monitor_lib.ProductionMonitor(
      examples=example_gen.outputs[names.EXAMPLES], serving_dir=config.serving_root, model_name=config.model_name,
      class_names=labels, slice_features=config.slice_features, history_path=config.monitoring_history_path,
      rules=monitor_history.AlertRules(min_accuracy=config.alert_min_accuracy,
                                       max_weekly_drop=config.alert_max_weekly_drop,
                                       min_examples=config.min_slice_examples)).with_id('ProductionMonitor')
  return tfx_pipeline.Pipeline(
      pipeline_name=config.pipeline_name + names.MONITORING_PIPELINE_SUFFIX, pipeline_root=config.pipeline_root,
      components=[example_gen, monitor], enable_cache=False,
      metadata_connection_config=metadata_connection_config,
      beam_pipeline_args=list(config.beam_pipeline_args))


@dataclasses.dataclass(frozen=True)
class RuntimeValues:
  """The settings a compiled Kubeflow pipeline takes as runtime parameters: each holds the config's value, or in
  a compiled spec the RuntimeParameter that stands for it.

  One compiled spec then serves every scheduled run: data folder, span (range_config: empty for the newest),
  epochs, tuner trials, push destination, blessing thresholds.
  """
  data_root: Any
  range_config: Any
  epochs: Any
  serving_dir: Any
  min_accuracy: Any
  min_slice_accuracy: Any
  max_accuracy_drop: Any
  tuner_trials: Any = None  # None: the DAG has no Tuner

  def by_name(self) -> Dict[str, Any]:
    """{runtime parameter name: value}, in the compiled spec's order, for the values the DAG reads."""
    return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
            if getattr(self, field.name) is not None}


def runtime_defaults(config: PipelineConfig) -> RuntimeValues:
  """The runtime parameters' values as the config gives them."""
  return RuntimeValues(
      data_root=data_input(config)[0], range_config='', epochs=config.epochs, serving_dir=config.serving_root,
      min_accuracy=config.min_accuracy, min_slice_accuracy=config.min_slice_accuracy,
      max_accuracy_drop=config.max_accuracy_drop, tuner_trials=config.tuner_trials if has_tuner(config) else None)


def has_tuner(config: PipelineConfig) -> bool:
  """Fixed hyperparameters or no trials leave the Tuner out of the DAG."""
  return config.tuner_trials > 0 and not config.hyperparameters


def create_training_components(config: PipelineConfig, settings: TrainingSettings, schema_gen: BaseComponent,
                               transform: BaseComponent, values: RuntimeValues) -> List[BaseComponent]:
  """[Tuner ->] Trainer, on Transform's examples and graph: the training half of the DAG."""
  trainer_inputs = {}
  components = []
  if has_tuner(config):
    tuner = training_components.Tuner(
        examples=transform.outputs[standard_component_specs.TRANSFORMED_EXAMPLES_KEY],
        transform_graph=transform.outputs[standard_component_specs.TRANSFORM_GRAPH_KEY],
        tuner_fn=TUNER_FN,
        train_args=trainer_pb2.TrainArgs(splits=['train']),
        eval_args=trainer_pb2.EvalArgs(splits=['eval']),
        # Only what tuning depends on, so changing e.g. the training epochs keeps the Tuner cached.
        custom_config=settings.tuning().to_custom_config(),
        tuner_trials=values.tuner_trials).with_id('Tuner')
    trainer_inputs['hyperparameters'] = tuner.outputs[names.BEST_HYPERPARAMETERS]
    trainer_inputs['tuner_results'] = tuner.outputs[names.TUNER_RESULTS]
    components.append(tuner)

  trainer = training_components.Trainer(
      examples=transform.outputs[standard_component_specs.TRANSFORMED_EXAMPLES_KEY],
      transform_graph=transform.outputs[standard_component_specs.TRANSFORM_GRAPH_KEY],
      schema=schema_gen.outputs[standard_component_specs.SCHEMA_KEY],
      run_fn=RUN_FN,
      train_args=trainer_pb2.TrainArgs(splits=['train']),
      eval_args=trainer_pb2.EvalArgs(splits=['eval']),
      custom_config=settings.to_custom_config(),
      epochs=values.epochs,
      **trainer_inputs).with_id('Trainer')
  return components + [trainer]


def create_release_components(config: PipelineConfig, labels: List[str], example_gen: BaseComponent,
                              trainer: BaseComponent, values: RuntimeValues,
                              production_model: str) -> List[BaseComponent]:
  """Evaluator -> Pusher: the trained model blessed against production on the test split, and pushed if so."""
  evaluator = evaluator_lib.ProductionEvaluator(
      examples=example_gen.outputs[names.EXAMPLES],
      model=trainer.outputs[names.MODEL],
      example_splits=[features.TEST_SPLIT],
      serving_dir=values.serving_dir,
      model_name=config.model_name,
      class_names=labels,
      min_accuracy=values.min_accuracy,
      min_slice_accuracy=values.min_slice_accuracy,
      max_accuracy_drop=values.max_accuracy_drop,
      min_slice_examples=config.min_slice_examples,
      significance=config.significance,
      strict_gates=config.strict_gates,
      allow_class_change=config.allow_class_change,
      slice_features=config.slice_features,
      fairness_thresholds=config.fairness_thresholds,
      production_model=production_model).with_id('Evaluator')

  pusher = pusher_lib.ServingPusher(
      model=trainer.outputs[names.MODEL],
      model_blessing=evaluator.outputs[names.BLESSING],
      examples=example_gen.outputs[names.EXAMPLES],
      evaluation=evaluator.outputs[names.EVALUATION],
      serving_dir=values.serving_dir,
      model_name=config.model_name,
      serving_base_path=config.serving_base_path or '',
      class_names=labels,
      tflite_quantize=config.tflite_quantize).with_id('Pusher')
  return [evaluator, pusher]


def create_scoring_component(config: PipelineConfig, pusher: BaseComponent, values: RuntimeValues,
                             images_fingerprint: str) -> BaseComponent:
  """ScoreSpan: the model in production, after the Pusher, scores config.score_span's unlabelled images."""
  return batch_inference.ScoreSpan(
      pushed_model=pusher.outputs[names.PUSHED_MODEL], serving_dir=values.serving_dir,
      model_name=config.model_name,
      settings=batch_inference.SpanScoring(
          images=config.score_span, max_image_pixels=config.max_image_pixels,
          max_image_bytes=config.max_image_bytes, max_aspect_ratio=config.max_aspect_ratio),
      images_fingerprint=images_fingerprint).with_id('ScoreSpan')


def create_pipeline(config: PipelineConfig, labels: List[str],
                    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
                    runtime_values: Optional[RuntimeValues] = None,
                    production_model: str = '', images_fingerprint: str = '') -> tfx_pipeline.Pipeline:
  """ExampleGen -> statistics/schema/validation -> Transform -> Tuner -> Trainer -> Evaluator -> Pusher
  [-> ScoreSpan].

  `labels` is the class list (labels-file order): it fixes the model's outputs, so it is part of the DAG.
  `runtime_values` replaces runtime_defaults (with Kubeflow RuntimeParameters).
  `production_model`, the version in production before the run, keys the Evaluator's cache (and the
  Trainer's, when it may start from production's weights); `images_fingerprint`, that of config.score_span, keys
  ScoreSpan's.
  """
  values = runtime_values or runtime_defaults(config)
  components = create_data_components(config, labels, values.data_root, values.range_config)
  by_id = {component.id: component for component in components}
  example_gen, schema_gen, transform = by_id['FileBasedExampleGen'], by_id['SchemaGen'], by_id['Transform']
  training = create_training_components(
      config, training_settings(config, labels, production_model), schema_gen, transform, values)
  trainer = training[-1]
  evaluator, pusher = create_release_components(config, labels, example_gen, trainer, values, production_model)
  components += training + [evaluator, pusher]
  if config.score_span:
    components.append(create_scoring_component(config, pusher, values, images_fingerprint))
  return tfx_pipeline.Pipeline(
      pipeline_name=config.pipeline_name,
      pipeline_root=config.pipeline_root,
      components=components,
      enable_cache=config.enable_cache,
      metadata_connection_config=metadata_connection_config,
      beam_pipeline_args=list(config.beam_pipeline_args))
