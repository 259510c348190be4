"""Reports as artifacts that the Kubeflow Pipelines UI renders: its system.HTML and system.Markdown types.

Each is a single file (a TFX value artifact) holding the page. TFX's Kubeflow entrypoint imports an artifact's
class by its type name, and 'system.HTML' names no Python module: components/kfp_entrypoint.py maps the two
names to these classes before TFX parses any artifact.
"""
from tfx.types import standard_artifacts


class HtmlReport(standard_artifacts.String):
  TYPE_NAME = 'system.HTML'


class MarkdownReport(standard_artifacts.String):
  TYPE_NAME = 'system.Markdown'


CLASS_PATHS = {artifact_class.TYPE_NAME: f'{__name__}.{artifact_class.__name__}'
               for artifact_class in (HtmlReport, MarkdownReport)}
