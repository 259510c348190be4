"""Kubeflow Pipelines' own artifact types, as TFX artifact classes.

TFX's Kubeflow entrypoint imports an artifact's class by its type title, and KFP's `system.*` titles name no
Python module: pipeline/runners/kubeflow_entrypoint.py maps them to these classes before TFX parses any artifact.
- system.HTML and system.Markdown are the reports that the Kubeflow Pipelines UI renders. Each is a single file
  (a TFX value artifact) holding the page.
- system.Artifact is how KFP types an output that it adds to a step itself, such as the `executor-logs` output
  of a backend that publishes each step's log.
"""
from tfx.types import artifact
from tfx.types import standard_artifacts


class HtmlReport(standard_artifacts.String):
  TYPE_NAME = 'system.HTML'


class MarkdownReport(standard_artifacts.String):
  TYPE_NAME = 'system.Markdown'


class KfpArtifact(artifact.Artifact):
  TYPE_NAME = 'system.Artifact'


CLASS_PATHS = {artifact_class.TYPE_NAME: f'{__name__}.{artifact_class.__name__}'
               for artifact_class in (HtmlReport, MarkdownReport, KfpArtifact)}
