"""A model's lineage, walkable both ways, as Vertex AI's lineage graph draws it: from a served version back to
the run that pushed it, the data and span it read, its ExampleGen, Transform and Trainer artifacts, the
evaluation and blessing, and the models it was compared with and started from; and forward from a run, or its
data, to the versions its models became and the later runs that reused its outputs.

Read-only, from what ML Metadata and the artifacts' properties already record, without TensorFlow or TFX.
"""
import dataclasses
import json
from typing import Dict, Iterable, List, Optional, Set, Tuple

import ml_metadata as mlmd

from components import names
from components import paths
from components.reports import artifact_contents
from components.trainer import warm_start
from pipeline.inspect import runs as runs_lib

# The outputs a model's chain passes through, in the DAG's order (each key is unique in the DAG).
CHAIN_KEYS = (names.EXAMPLES, names.TRANSFORM_GRAPH, names.MODEL, names.EVALUATION, names.BLESSING,
              names.PUSHED_MODEL)
# TFX's ExampleGen execution properties: the folder it reads, and the split pattern within it (span resolved).
_INPUT_BASE = 'input_base'
_INPUT_CONFIG = 'input_config'
_CUSTOM_CONFIG = 'custom_config'
_SPAN = 'span'
# ExampleGen's Settings (components/example_gen/executor.py) in its custom_config: how the data is laid out
# ('folder': class sub-folders, else a CSV) and how many of the newest spans it reads.
_LAYOUT, _FOLDER_LAYOUT, _NUM_SPANS = 'layout', 'folder', 'num_spans'


class UnknownVersion(ValueError):
  """No run in the metadata store pushed the version asked for; the message says where versions are listed."""


@dataclasses.dataclass(frozen=True)
class ModelRef:
  """A model folder that a blessing, a warm start or a push names, with its version and the run that pushed
  it where they are known."""
  directory: str
  version: Optional[str] = None  # set when the folder is a version of this serving directory
  run_id: Optional[str] = None   # the run whose Pusher wrote it; None where no run in this store did


@dataclasses.dataclass(frozen=True)
class ChainArtifact:
  """One output on the way from the data to the pushed model."""
  node_id: str
  key: str
  type: str
  uri: str
  made_by_run: str  # the run whose execution wrote it: this run, or the earlier run whose output it reused


@dataclasses.dataclass(frozen=True)
class DataSource:
  """What ExampleGen read, and what became of the rows."""
  layout: str                 # 'csv', or 'folder' (class sub-folders)
  path: str                   # the CSV (the newest span's) or the image folder
  span: Optional[int]
  first_span: Optional[int]   # the oldest span read with it (num_spans > 1); else the span itself
  accepted_rows: Optional[int]
  rejected_rows: Optional[int]
  rejects_uri: Optional[str]  # rejects.csv, also where ExampleGen refused the data
  made_by_run: str            # the run whose ExampleGen read it


@dataclasses.dataclass(frozen=True)
class Reuse:
  """A later run that reused outputs of this one: its components that were cached on them."""
  run_id: str
  node_ids: Tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Lineage:
  """One run's place in the lineage: what made its model, and what its model and data became.

  None (or empty) where the step that records a value did not run.
  """
  run_id: str
  pushed: Optional[ModelRef]  # the version this run's Pusher wrote (or, cached, an earlier run's)
  data: Optional[DataSource]
  artifacts: Tuple[ChainArtifact, ...]  # in CHAIN_KEYS' order
  accuracy: Optional[float]
  blessed: Optional[bool]
  blessing_reasons: Tuple[str, ...]
  compared_with: Optional[ModelRef]  # the model in production the Evaluator measured it against
  warm_start: Optional[str]          # the Trainer's decision, in words
  warm_started_from: Optional[ModelRef]
  reused_by: Tuple[Reuse, ...]       # later runs, oldest first
  model_became: Tuple[ModelRef, ...]  # the versions pushed from this run's model, by this run or a later one
  data_became: Tuple[ModelRef, ...]   # the versions of every model trained on this run's examples


@dataclasses.dataclass(frozen=True)
class _Serving:
  """The serving directory and the versions the store's runs pushed into it, by canonical folder."""
  model_dir: str
  pushed_by: Dict[str, str]  # {canonical version folder: the run that pushed it}

  @classmethod
  def read(cls, store: mlmd.MetadataStore, serving_model_dir: str) -> '_Serving':
    return cls(paths.canonical(serving_model_dir), runs_lib.pushed_versions(store))

  def ref(self, directory: str) -> ModelRef:
    canonical = paths.canonical(directory)
    parent, version = canonical.rsplit('/', 1) if '/' in canonical else ('', canonical)
    return ModelRef(directory, version if parent == self.model_dir and version.isdigit() else None,
                    self.pushed_by.get(canonical))

  def refs(self, directories: Iterable[str]) -> Tuple[ModelRef, ...]:
    """One ref per folder, oldest version first."""
    unique = {paths.canonical(directory): directory for directory in directories}
    refs = [self.ref(directory) for directory in unique.values()]
    return tuple(sorted(refs, key=lambda ref: (int(ref.version) if ref.version else -1, ref.directory)))


def run_lineage(store: mlmd.MetadataStore, run_id: str, serving_model_dir: str) -> Lineage:
  """The lineage of one run; ValueError names a run the store does not hold."""
  nodes = runs_lib.run_nodes(store, run_id, with_files=False)
  outcome = runs_lib.run_outcome(nodes)
  serving = _Serving.read(store, serving_model_dir)
  outputs = runs_lib.outputs_by_key(nodes)
  makers = {artifact.key: node for node in nodes for artifact in node.outputs}
  model, examples = outputs.get(names.MODEL), outputs.get(names.EXAMPLES)
  started_from = warm_start.started_from(outcome.warm_start or '')
  return Lineage(
      run_id=run_id,
      pushed=serving.ref(outcome.pushed_model_dir) if outcome.pushed_model_dir else None,
      data=_data_source(store, nodes, run_id),
      artifacts=tuple(ChainArtifact(makers[key].node_id, key, outputs[key].type, outputs[key].uri,
                                    makers[key].reused_from or run_id) for key in CHAIN_KEYS if key in outputs),
      accuracy=outcome.accuracy, blessed=outcome.blessed, blessing_reasons=outcome.blessing_reasons,
      compared_with=serving.ref(outcome.baseline_dir) if outcome.baseline_dir else None,
      warm_start=outcome.warm_start,
      warm_started_from=serving.ref(started_from) if started_from else None,
      reused_by=_reused_by(store, nodes, run_id),
      model_became=serving.refs(_pushed_from(store, model.artifact_id)) if model else (),
      data_became=serving.refs(_pushed_from(store, examples.artifact_id)) if examples else ())


def version_lineage(store: mlmd.MetadataStore, serving_model_dir: str, version: str) -> Lineage:
  """The lineage of a pushed version, from the run that pushed it; UnknownVersion where no run in the store
  pushed it into this serving directory."""
  directory = f'{serving_model_dir.rstrip("/")}/{version}'
  run_id = _Serving.read(store, serving_model_dir).pushed_by.get(paths.canonical(directory))
  if run_id is None:
    if version in map(str, artifact_contents.serving_versions(serving_model_dir)):
      raise UnknownVersion(f'version {version} under {serving_model_dir} was pushed by no run in this metadata '
                           f'store, so its lineage is not recorded')
    raise UnknownVersion(f'no pushed version {version} under {serving_model_dir}: the Models page and '
                         f'`visionflow runs --pushed` list the versions')
  return run_lineage(store, run_id, serving_model_dir)


def _example_gen(nodes: List[runs_lib.NodeView]) -> Optional[runs_lib.NodeView]:
  return next((node for node in nodes if _INPUT_BASE in node.execution_properties), None)


def _data_source(store: mlmd.MetadataStore, nodes: List[runs_lib.NodeView], run_id: str) -> Optional[DataSource]:
  """What the run's ExampleGen read, from the execution that read it (the earlier run's, where it was cached)."""
  example_gen = _example_gen(nodes)
  if example_gen is None:
    return None
  reader = example_gen
  if example_gen.reused_from:
    reader = _example_gen(runs_lib.run_nodes(store, example_gen.reused_from, with_files=False)) or example_gen
  properties = reader.execution_properties
  settings = json.loads(properties.get(_CUSTOM_CONFIG) or '{}').get(_CUSTOM_CONFIG, {}).get('value', {})
  input_base = properties[_INPUT_BASE]
  if settings.get(_LAYOUT) == _FOLDER_LAYOUT:
    layout, path = _FOLDER_LAYOUT, input_base
  else:
    splits = json.loads(properties.get(_INPUT_CONFIG) or '{}').get('splits') or [{}]
    pattern = splits[0].get('pattern', '')
    layout, path = 'csv', f'{input_base.rstrip("/")}/{pattern}' if pattern else input_base
  examples = next((artifact for artifact in example_gen.outputs if artifact.key == names.EXAMPLES), None)
  found = examples.properties if examples else {}
  span = found.get(_SPAN, properties.get(_SPAN))
  spans_read = int(settings.get(_NUM_SPANS) or 1)
  return DataSource(
      layout=layout, path=path, span=span, first_span=None if span is None else max(0, span - spans_read + 1),
      accepted_rows=found.get(names.ACCEPTED_ROWS), rejected_rows=found.get(names.REJECTED_ROWS),
      rejects_uri=found.get(names.REJECTS_URI) or example_gen.refused_rejects_uri,
      made_by_run=example_gen.reused_from or run_id)


def _run_and_node(store: mlmd.MetadataStore, execution_id: int) -> Tuple[str, str]:
  """(the run, the component) an execution belongs to."""
  contexts = store.get_contexts_by_execution(execution_id)
  run_type = store.get_context_type(runs_lib.PIPELINE_RUN_CONTEXT).id
  node_type = store.get_context_type(runs_lib.NODE_CONTEXT).id
  return (next((context.name for context in contexts if context.type_id == run_type), ''),
          next((context.name.split('.')[-1] for context in contexts if context.type_id == node_type), ''))


def _reused_by(store: mlmd.MetadataStore, nodes: List[runs_lib.NodeView], run_id: str) -> Tuple[Reuse, ...]:
  """The later runs whose cached executions output artifacts that this run's executions made."""
  made_here = sorted({artifact.artifact_id for node in nodes if node.state != 'CACHED' for artifact in node.outputs})
  if not made_here:
    return ()
  run_context = store.get_context_by_type_and_name(runs_lib.PIPELINE_RUN_CONTEXT, run_id)
  own = {execution.id for execution in store.get_executions_by_context(run_context.id)}
  reusers = sorted({event.execution_id for event in store.get_events_by_artifact_ids(made_here)
                    if not runs_lib.is_input(event) and event.execution_id not in own})
  by_run: Dict[str, List[str]] = {}
  for execution_id in reusers:
    later_run, node_id = _run_and_node(store, execution_id)
    by_run.setdefault(later_run, []).append(node_id)
  return tuple(Reuse(later_run, tuple(node_ids)) for later_run, node_ids in by_run.items())


def _descendants(store: mlmd.MetadataStore, artifact_id: int) -> Set[int]:
  """The artifact and every artifact made from it, through any number of executions; the walk ends because
  each artifact and execution is visited once."""
  found, read_by, frontier = {artifact_id}, set(), [artifact_id]
  while frontier:
    readers = {event.execution_id for event in store.get_events_by_artifact_ids(frontier)
               if runs_lib.is_input(event)} - read_by
    read_by |= readers
    made = ({event.artifact_id for event in store.get_events_by_execution_ids(sorted(readers))
             if not runs_lib.is_input(event)} - found) if readers else set()
    found |= made
    frontier = sorted(made)
  return found


def _pushed_from(store: mlmd.MetadataStore, artifact_id: int) -> List[str]:
  """The version folders pushed from models made from this artifact (itself a model, or the data)."""
  pushed_type = next((artifact_type.id for artifact_type in store.get_artifact_types()
                      if artifact_type.name == 'PushedModel'), None)
  if pushed_type is None:
    return []
  folders = []
  for artifact in store.get_artifacts_by_id(sorted(_descendants(store, artifact_id))):
    properties = runs_lib.artifact_properties(artifact)
    if artifact.type_id == pushed_type and properties.get(names.PUSHED) == 1 and properties.get(
        names.PUSHED_DESTINATION):
      folders.append(properties[names.PUSHED_DESTINATION])
  return folders


def _model_text(ref: ModelRef) -> str:
  pusher = f'pushed by run {ref.run_id}' if ref.run_id else 'pushed by no run in this store'
  return f'version {ref.version} ({pusher})' if ref.version else f'{ref.directory} ({pusher})'


def _models_text(refs: Tuple[ModelRef, ...]) -> str:
  return '; '.join(_model_text(ref) for ref in refs) or 'none'


def _data_text(data: DataSource) -> str:
  source = f'image folder {data.path}' if data.layout == _FOLDER_LAYOUT else f'CSV {data.path}'
  if data.span is not None:
    source += (f', spans {data.first_span} to {data.span}' if data.first_span != data.span
               else f', span {data.span}')
  rows = ('' if data.accepted_rows is None else
          f'; {data.accepted_rows} rows accepted, {data.rejected_rows} rejected')
  return f'{source}, read by run {data.made_by_run}{rows}; rejects report {data.rejects_uri or "none"}'


def text_lines(lineage: Lineage) -> List[str]:
  """The lineage as `visionflow show --lineage` prints it, one fact a line."""
  if lineage.blessed is None:
    verdict = 'not evaluated'
  else:
    verdict = 'blessed' if lineage.blessed else 'not blessed: ' + '; '.join(lineage.blessing_reasons)
  accuracy = '' if lineage.accuracy is None else f'test accuracy {lineage.accuracy:.4f}, '
  if lineage.compared_with:
    compared_with = _model_text(lineage.compared_with)
  else:
    compared_with = 'not evaluated' if lineage.blessed is None else 'no model in production'
  started_from = f'from {_model_text(lineage.warm_started_from)}: ' if lineage.warm_started_from else ''
  lines = [f'Run {lineage.run_id}',
           f'Pushed: {_model_text(lineage.pushed) if lineage.pushed else "no version"}',
           f'Data: {_data_text(lineage.data) if lineage.data else "ExampleGen did not run"}',
           'Artifacts:']
  lines += [f'  {artifact.node_id} {artifact.key} ({artifact.type}): {artifact.uri}'
            + ('' if artifact.made_by_run == lineage.run_id else f' (made by run {artifact.made_by_run})')
            for artifact in lineage.artifacts] or ['  none']
  lines += [f'Evaluation: {accuracy}{verdict}',
            f'Compared with: {compared_with}',
            f'Warm start: {started_from}{lineage.warm_start or "not recorded"}',
            'Reused by later runs: ' + ('; '.join(f'{reuse.run_id} ({", ".join(reuse.node_ids)})'
                                                  for reuse in lineage.reused_by) or 'none'),
            f'Its model became: {_models_text(lineage.model_became)}',
            f'Models trained on its data became: {_models_text(lineage.data_became)}']
  return lines
