"""Runs the pipeline on TFX's LocalDagRunner with SQLite metadata, and reports what it produced."""
import dataclasses
import glob
import json
import logging
import os
import re
import time
from typing import Callable, List, Optional

from tfx.components.example_gen import utils as example_gen_utils
from tfx.dsl.compiler import compiler
from tfx.dsl.compiler import constants
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.orchestration.portable import runtime_parameter_utils
from tfx.proto.orchestration import pipeline_pb2

from components import compat
from components import disk_space
from components import names
from components import input_files
from components import paths
from components import serving_dir
from pipeline.config import PipelineConfig
from pipeline.inspect import run_logs
from pipeline.inspect import runs as runs_lib
from pipeline.pipeline import create_monitoring_pipeline
from pipeline.pipeline import create_pipeline
from pipeline.pipeline import read_class_labels
from pipeline.runners import progress
from pipeline import run_process
from pipeline import sample_data


@dataclasses.dataclass(frozen=True)
class RunSummary:
  """A finished run, as the CLI reports it: its id, its log, and what it produced."""
  run_id: str
  outcome: runs_lib.RunOutcome
  log_path: str

  @property
  def pushed_model_dir(self) -> Optional[str]:
    return self.outcome.pushed_model_dir

  def describe_data(self) -> str:
    """The rows ExampleGen took in and, when the ExampleValidator found any, the drift from the previous span."""
    outcome = self.outcome
    lines = [f'ExampleGen accepted {outcome.accepted_rows} rows and rejected {outcome.rejected_rows}; '
             f'rejects report: {outcome.rejects_uri}']
    if outcome.drift:
      lines.append(f'Drift: {outcome.drift}')
    return '\n'.join(lines)

  def describe(self) -> str:
    """The outcome: what was pushed, or why nothing was; then where the evaluation report is."""
    outcome = self.outcome
    accuracy = 'unknown' if outcome.accuracy is None else f'{outcome.accuracy:.4f}'
    baseline = (f'compared with the model in production {outcome.baseline_dir}' if outcome.baseline_dir
                else 'no model in production yet')
    if outcome.pushed_model_dir and outcome.push_reused_from:
      lines = [f'Nothing pushed by this run: every step through the Pusher was reused from run '
               f'{outcome.push_reused_from}, which pushed {outcome.pushed_model_dir} (test accuracy {accuracy})']
    elif outcome.pushed_model_dir and outcome.already_served:
      lines = [f'Model already in production: {outcome.pushed_model_dir} holds these bytes, not copied again '
               f'(test accuracy {accuracy}; {baseline})']
    elif outcome.pushed_model_dir:
      lines = [f'Pushed model: {outcome.pushed_model_dir} (test accuracy {accuracy}; {baseline})']
      lines += [f'{title}: {path}' for title, path in (
          ('Model card', os.path.join(outcome.pushed_model_dir, names.MODEL_CARD_HTML_FILE)),
          ('TFLite model', os.path.join(outcome.pushed_model_dir, names.TFLITE_FILE))) if os.path.exists(path)]
    elif not outcome.blessed:
      lines = [f'No model pushed: not blessed (test accuracy {accuracy}; {baseline}). Reasons:']
      lines += [f'  - {reason}' for reason in outcome.blessing_reasons]
    elif outcome.push_refusal:
      lines = [f'No model pushed: {outcome.push_refusal} (test accuracy {accuracy})']
    else:
      lines = [f'No model pushed although it was blessed (test accuracy {accuracy}): see the Pusher log']
    if outcome.warm_start:
      lines.insert(0, f'Warm start: {outcome.warm_start}')
    if outcome.training_outcome:
      lines.insert(0, f'Training: {outcome.training_outcome}')
    if outcome.model_choice:
      lines.insert(0, f'Model: {outcome.model_choice}')
    if outcome.report_html:
      lines.append(f'Evaluation report: {outcome.report_html}')
    return '\n'.join(lines)


def resolve_data(config: PipelineConfig) -> PipelineConfig:
  """Absolute paths everywhere; with no data given, the embedded sample set under a local output dir.

  A remote output dir (gs://...) gets no sample: `compile` is offline, and the sample on this machine is no
  data that Kubeflow's pods could read anyway. That is a ValueError saying what to give instead.
  """
  config = config.replace(output_dir=_absolute(config.output_dir), score_span=_absolute(config.score_span))
  if config.image_folder:
    return config.replace(image_folder=_absolute(config.image_folder), labels_file=_absolute(config.labels_file))
  if config.data_csv is None and paths.is_remote(config.output_dir):
    raise ValueError(f'no data given, and the embedded sample is written only to a local output folder, not '
                     f'{config.output_dir}: give --data-csv and --labels-file (or --image-folder) on storage '
                     f'the pipeline steps read')
  if config.data_csv is None:
    csv_path, labels_path = sample_data.materialize_digits(os.path.join(config.output_dir, 'sample_data'))
    return config.replace(data_csv=csv_path, labels_file=labels_path)
  return config.replace(data_csv=_absolute(config.data_csv), labels_file=_absolute(config.labels_file))


def _absolute(path: Optional[str]) -> Optional[str]:
  """Local paths made absolute; URLs such as gs://... and None stay as they are."""
  return path if path is None or paths.is_remote(path) else os.path.abspath(path)


def prepare_output_dir(output_dir: str) -> None:
  """The output folder exists and is a folder; raises ValueError (one line) before anything is written."""
  if os.path.exists(output_dir) and not os.path.isdir(output_dir):
    raise ValueError(f'--output-dir {output_dir} is a file, not a folder: give a folder (it is created if missing)')
  try:
    os.makedirs(output_dir, exist_ok=True)
  except OSError as error:
    raise ValueError(f'--output-dir {output_dir} cannot be created: {error.strerror}') from None


def _as_glob(pattern: str) -> str:
  """A CSV path with TFX's span, version and date specs replaced by `*`."""
  for regex in (example_gen_utils.SPAN_FULL_REGEX, example_gen_utils.VERSION_FULL_REGEX):
    pattern = re.sub(regex, '*', pattern)
  for spec in example_gen_utils.DATE_SPECS:
    pattern = pattern.replace(spec, '*')
  return pattern


def _check_file_names(image_folder: str) -> None:
  """Every name in the folder can be read as a path: TFX's ExampleGen driver lists the folder with tf.io.gfile,
  which fails the whole run, naming no file, at a name that is not UTF-8. Raises ValueError naming the first."""
  for folder, folder_names, file_names in os.walk(image_folder):
    for name in folder_names + file_names:
      problem = paths.path_problem(name)
      if problem:
        raise ValueError(f'--image-folder {image_folder}: {paths.printable(os.path.join(folder, name))}: {problem}')


def check_inputs(config: PipelineConfig) -> None:
  """The data a run reads is there and readable: raises ValueError (one line) before TFX starts.

  Local paths only; gs:// and other file systems are read, and checked, by ExampleGen. The labels file
  is checked by reading it (read_class_labels), just after.
  """
  def local(path: Optional[str]) -> bool:
    return path is not None and not paths.is_remote(path)

  if local(config.image_folder):
    if not os.path.isdir(config.image_folder):
      raise ValueError(f'--image-folder {config.image_folder} is not a folder')
    _check_file_names(config.image_folder)
  if local(config.data_csv):
    if _as_glob(config.data_csv) != config.data_csv:
      if not glob.glob(_as_glob(config.data_csv)):
        raise ValueError(f'--data-csv {config.data_csv}: no file matches the pattern')
    else:
      input_files.check_text(config.data_csv)
  if local(config.score_span):
    from components.batch_inference import scoring  # imports Beam and TensorFlow: only when there is a span
    scoring.check_sources([config.score_span])


def compile_run(pipeline: tfx_pipeline.Pipeline, run_id: str) -> pipeline_pb2.Pipeline:
  """The pipeline's IR with this run's id, which LocalDagRunner otherwise sets to the current time."""
  ir = compiler.Compiler().compile(pipeline)
  runtime_parameter_utils.substitute_runtime_parameter(ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
  return ir


def run(config: PipelineConfig, verbose: bool = False) -> RunSummary:
  """One run of the whole pipeline; the console shows its progress (with `verbose`, everything its log gets)."""
  def whole_pipeline(resolved: PipelineConfig, labels: List[str]) -> tfx_pipeline.Pipeline:
    fingerprint = ''
    if resolved.score_span:
      from components.batch_inference import scoring  # imports Beam and TensorFlow: only when there is a span
      fingerprint = scoring.source_fingerprint(resolved.score_span)
    return create_pipeline(resolved, labels, runs_lib.sqlite_connection_config(resolved.metadata_path),
                           production_model=serving_dir.newest_version_dir(resolved.serving_model_dir) or '',
                           images_fingerprint=fingerprint)
  return _run_locally(config, whole_pipeline, verbose)


def evaluate_production(config: PipelineConfig, verbose: bool = False) -> RunSummary:
  """One run of the continuous evaluation: the model in production on the config's (newly labelled) data."""
  def monitoring_pipeline(resolved: PipelineConfig, labels: List[str]) -> tfx_pipeline.Pipeline:
    return create_monitoring_pipeline(resolved, labels, runs_lib.sqlite_connection_config(resolved.metadata_path))
  return _run_locally(config, monitoring_pipeline, verbose)


def _run_locally(config: PipelineConfig, build: Callable[[PipelineConfig, List[str]], tfx_pipeline.Pipeline],
                 verbose: bool) -> RunSummary:
  """Holds the output folder so that no second run writes its store, root or serving folder."""
  config = config.replace(output_dir=_absolute(config.output_dir))
  prepare_output_dir(config.output_dir)
  run_id = run_logs.new_run_id()
  process = run_process.RunProcess.current(run_id)
  with run_process.OutputLock(config.output_dir, process):
    runs_lib.check_store(config.metadata_path)
    config = resolve_data(config)
    check_inputs(config)
    labels: List[str] = read_class_labels(config)
    pipeline = build(config, labels)
    log_path = run_logs.log_path(config.log_dir, run_id)
    with progress.reporting(log_path, len(pipeline.components), verbose):
      run_process.record(config.log_dir, process)
      logging.info(run_logs.DAG_MESSAGE, json.dumps(
          {component.id: sorted(upstream.id for upstream in component.upstream_nodes)
           for component in pipeline.components}))
      compat.skip_beam_packaging_for_direct_runner()
      try:
        LocalDagRunner().run_with_ir(compile_run(pipeline, run_id))
      except Exception as error:  # the log file, which the UI shows per component, keeps why the run stopped
        progress.log_failure()
        step = progress.running_step()
        step_folder = os.path.join(config.pipeline_root, step) if step else config.pipeline_root
        disk_full = disk_space.step_disk_full(error, step or 'the run', step_folder)
        if disk_full:  # one line, whichever step filled the disk; the Pusher has already removed its staging
          raise disk_full from None
        raise
      finally:
        run_process.record(config.log_dir, dataclasses.replace(process, ended=time.time()))
    return summarize_run(config, run_id, log_path)


def summarize_run(config: PipelineConfig, run_id: str, log_path: str = '') -> RunSummary:
  view, _ = runs_lib.run_details(runs_lib.open_store(config.metadata_path), run_id)
  return RunSummary(run_id=view.run_id, outcome=view.outcome, log_path=log_path)
