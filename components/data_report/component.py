"""The data report: what ExampleGen accepted and rejected (and why), the schema anomalies, and the statistics
per split (label and image size distributions, each feature's presence and values).

A component of its own so that the report is a system.HTML and a system.Markdown artifact, which the
Kubeflow Pipelines UI renders; TFDV's own visualisation needs a notebook and scripts from the internet.
"""
from typing import Any, Dict, List, Sequence, Tuple

from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import base_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils
from tfx.types import component_spec
from tfx.types import standard_artifacts

from components import names
from components.reports import artifact_contents
from components.reports import kfp_artifacts
from components.reports import report_format

TITLE = 'Data report'
MAX_REJECTS_SHOWN = 1000


def build_tables(examples_properties: Dict[str, Any], rejects: Tuple[List[str], List[List[str]]],
                 summaries: Dict[str, List[artifact_contents.FeatureSummary]],
                 anomalies: Dict[str, List[artifact_contents.Anomaly]]) -> List[report_format.Table]:
  splits = sorted(summaries, key=artifact_contents.split_order)
  header, rows = rejects
  def rows_counted(name: str) -> str:
    return report_format.count(examples_properties.get(name))

  tables = [report_format.Table(
      'Ingestion', ['rows', 'count'],
      [['accepted', rows_counted(names.ACCEPTED_ROWS)], ['rejected', rows_counted(names.REJECTED_ROWS)]]
      + [[f'accepted into {split}', rows_counted(names.accepted_rows_in(split))] for split in splits],
      note=f'Rejects report: {examples_properties.get(names.REJECTS_URI, "n/a")}')]
  if rows:
    tables.append(report_format.Table(
        'Rejected rows', header, rows[:MAX_REJECTS_SHOWN],
        note=f'The first {MAX_REJECTS_SHOWN} of {len(rows)}; all are in the rejects report.'
        if len(rows) > MAX_REJECTS_SHOWN else ''))
  anomaly_splits = sorted(anomalies, key=artifact_contents.split_order)
  tables.append(report_format.Table(
      'Schema anomalies', ['split', 'feature', 'severity', 'description'],
      [[split, anomaly.feature, anomaly.severity, anomaly.description]
       for split in anomaly_splits for anomaly in anomalies[split]]
      + [[split, '', '', 'no anomalies'] for split in anomaly_splits if not anomalies[split]]))
  for split in splits:
    by_name = {summary.name: summary for summary in summaries[split]}
    for name, title in artifact_contents.DISTRIBUTIONS:
      if name in by_name:
        tables.append(report_format.Table(f'{title}, {split}', [name, 'examples'],
                                          [[value, f'{count:g}'] for value, count in by_name[name].top_values]))
    tables.append(report_format.Table(
        f'Features, {split}', ['feature', 'type', 'present', 'missing', 'values', 'most frequent'],
        [[summary.name, summary.type, summary.present, summary.missing, summary.summary,
          ', '.join(f'{value} ({count:g})' for value, count in artifact_contents.shown_values(summary))]
         for summary in summaries[split]]))
  return tables


def render(tables: Sequence[report_format.Table]) -> Tuple[str, str]:
  """(HTML page, Markdown) of the tables."""
  html = report_format.html_page(TITLE, [report_format.html_table(table) for table in tables])
  markdown = '\n'.join([f'# {TITLE}', ''] + [report_format.markdown_table(table) for table in tables])
  return html, markdown


def custom_properties(artifact: types.Artifact) -> Dict[str, Any]:
  """The artifact's custom properties, also as Kubeflow passes them: JSON values, where TFX reads a 0 as None."""
  values = {}
  for name in artifact.mlmd_artifact.custom_properties:
    value = artifact.get_custom_property(name)
    values[name] = artifact.get_json_value_custom_property(name) if value is None else value
  return values


class Executor(base_executor.BaseExecutor):

  def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    examples = artifact_utils.get_single_instance(input_dict[names.EXAMPLES])
    properties = custom_properties(examples)
    tables = build_tables(
        properties, artifact_contents.rejects(properties.get(names.REJECTS_URI)),
        artifact_contents.feature_summaries(artifact_utils.get_single_uri(input_dict[names.STATISTICS])),
        artifact_contents.anomalies(artifact_utils.get_single_uri(input_dict[names.ANOMALIES])))
    html, markdown = render(tables)
    artifact_utils.get_single_instance(output_dict[names.HTML_REPORT]).value = html
    artifact_utils.get_single_instance(output_dict[names.MARKDOWN_REPORT]).value = markdown


class DataReportSpec(component_spec.ComponentSpec):
  PARAMETERS = {}
  INPUTS = {
      'examples': component_spec.ChannelParameter(type=standard_artifacts.Examples),
      'statistics': component_spec.ChannelParameter(type=standard_artifacts.ExampleStatistics),
      'anomalies': component_spec.ChannelParameter(type=standard_artifacts.ExampleAnomalies),
  }
  OUTPUTS = {
      names.HTML_REPORT: component_spec.ChannelParameter(type=kfp_artifacts.HtmlReport),
      names.MARKDOWN_REPORT: component_spec.ChannelParameter(type=kfp_artifacts.MarkdownReport),
  }


class DataReport(base_component.BaseComponent):
  """The data report of ExampleGen's `examples`, StatisticsGen's `statistics` and ExampleValidator's
  `anomalies`, as HTML and Markdown artifacts."""
  SPEC_CLASS = DataReportSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

  def __init__(self, examples, statistics, anomalies):
    super().__init__(spec=DataReportSpec(
        examples=examples, statistics=statistics, anomalies=anomalies,
        html_report=types.Channel(type=kfp_artifacts.HtmlReport),
        markdown_report=types.Channel(type=kfp_artifacts.MarkdownReport)))
