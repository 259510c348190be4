"""Runs the pipeline on TFX's LocalDagRunner with SQLite metadata, and reports what it produced."""
import dataclasses
import json
import logging
import os
from typing import List, Optional

from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from components import evaluator
from pipeline import metadata
from pipeline import progress
from pipeline import run_logs
from pipeline import sample_data
from pipeline.config import PipelineConfig
from pipeline.pipeline import create_pipeline
from pipeline.pipeline import read_class_labels


@dataclasses.dataclass
class RunSummary:
  run_id: str
  accepted_rows: Optional[int]
  rejected_rows: Optional[int]
  rejects_uri: Optional[str]
  blessed: bool
  pushed_model_dir: Optional[str]
  test_accuracy: Optional[float]
  blessing_reasons: List[str]
  baseline_dir: Optional[str]
  report_html: Optional[str]
  log_path: str

  def describe_data(self) -> str:
    return (f'ExampleGen accepted {self.accepted_rows} rows and rejected {self.rejected_rows}; '
            f'rejects report: {self.rejects_uri}')

  def describe(self) -> str:
    """The outcome: what was pushed, or why nothing was; then where the evaluation report is."""
    accuracy = 'unknown' if self.test_accuracy is None else f'{self.test_accuracy:.4f}'
    baseline = (f'compared with the model in production {self.baseline_dir}' if self.baseline_dir
                else 'no model in production yet')
    if self.pushed_model_dir:
      lines = [f'Pushed model: {self.pushed_model_dir} (test accuracy {accuracy}; {baseline})']
    elif not self.blessed:
      lines = [f'No model pushed: not blessed (test accuracy {accuracy}; {baseline}). Reasons:']
      lines += [f'  - {reason}' for reason in self.blessing_reasons]
    else:
      lines = [f'No model pushed although it was blessed (test accuracy {accuracy}): see the Pusher log']
    if self.report_html:
      lines.append(f'Evaluation report: {self.report_html}')
    return '\n'.join(lines)


def resolve_data(config: PipelineConfig) -> PipelineConfig:
  """Absolute paths everywhere; with no data given, the embedded sample set under the output dir."""
  config = config.replace(output_dir=_absolute(config.output_dir))
  if config.image_folder:
    return config.replace(image_folder=_absolute(config.image_folder), labels_file=_absolute(config.labels_file))
  if config.data_csv is None:
    csv_path, labels_path = sample_data.materialize_digits(os.path.join(config.output_dir, 'sample_data'))
    return config.replace(data_csv=csv_path, labels_file=labels_path)
  return config.replace(data_csv=_absolute(config.data_csv), labels_file=_absolute(config.labels_file))


def _absolute(path: Optional[str]) -> Optional[str]:
  """Local paths made absolute; URLs such as gs://... and None stay as they are."""
  return path if path is None or '://' in path else os.path.abspath(path)


def run(config: PipelineConfig) -> RunSummary:
  config = resolve_data(config)
  labels: List[str] = read_class_labels(config)
  os.makedirs(config.output_dir, exist_ok=True)
  pipeline = create_pipeline(config, labels,
                             metadata.sqlite_connection_config(config.metadata_path))
  log_path = progress.configure(config.log_dir, len(pipeline.components))
  logging.info(run_logs.DAG_MESSAGE, json.dumps(
      {component.id: sorted(upstream.id for upstream in component.upstream_nodes)
       for component in pipeline.components}))
  try:
    LocalDagRunner().run(pipeline)
  except Exception:  # the log file, which the UI shows per component, keeps why the run stopped
    logging.exception(run_logs.FAILURE_MESSAGE)
    raise
  return summarize_latest_run(config, log_path)


def summarize_latest_run(config: PipelineConfig, log_path: str = '') -> RunSummary:
  run_outputs = metadata.latest_run(metadata.open_store(config.metadata_path))
  if run_outputs is None:
    raise RuntimeError(f'{config.metadata_path} records no pipeline run')
  blessing = run_outputs.single('blessing')
  pushed = run_outputs.single('pushed_model')
  evaluation_artifact = run_outputs.single('evaluation')
  examples = run_outputs.single('examples')
  accuracy = None
  if evaluation_artifact is not None:
    accuracy = metadata.artifact_properties(evaluation_artifact).get(evaluator.ACCURACY)
  pushed_dir = None
  if pushed is not None and metadata.int_property(pushed, 'pushed') == 1:
    pushed_dir = metadata.string_property(pushed, 'pushed_destination')
  return RunSummary(
      run_id=run_outputs.run_id,
      accepted_rows=metadata.int_property(examples, 'accepted_rows') if examples else None,
      rejected_rows=metadata.int_property(examples, 'rejected_rows') if examples else None,
      rejects_uri=metadata.string_property(examples, 'rejects_uri') if examples else None,
      blessed=blessing is not None and metadata.int_property(blessing, 'blessed') == 1,
      pushed_model_dir=pushed_dir,
      test_accuracy=accuracy,
      blessing_reasons=json.loads(metadata.string_property(blessing, evaluator.BLESSING_REASONS) or '[]')
      if blessing else [],
      baseline_dir=(metadata.string_property(blessing, evaluator.BASELINE_VERSION_DIR) or None)
      if blessing else None,
      report_html=metadata.string_property(evaluation_artifact, evaluator.REPORT_HTML)
      if evaluation_artifact else None,
      log_path=log_path)
