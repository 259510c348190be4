"""A model's lineage both ways, over a real ML Metadata store written as TFX's runner records runs
(tests/pipeline/inspect/stored_runs.py): a run that pushes version 1, a run that reuses its data and Transform,
warm-starts from version 1, is compared with it and pushes version 2, and a run whose ExampleGen read an image
folder and failed. test_ui.py walks the lineage of real pipeline runs in the browser."""
import dataclasses
import json
import os

import pytest

from components import names
from pipeline.inspect import lineage
from pipeline.inspect import runs as runs_lib
from tests.pipeline.inspect import stored_runs
from tests.pipeline.inspect.stored_runs import Step

REJECTS = '/pipeline_root/FileBasedExampleGen/examples/run-1/rejects.csv'


def _example_gen(span: int) -> Step:
  settings = {'custom_config': {'@type': 'type.googleapis.com/google.protobuf.Struct',
                                'value': {'layout': 'csv', 'num_spans': 2.0}}}
  return Step('FileBasedExampleGen', outputs={names.EXAMPLES: {
      names.ACCEPTED_ROWS: 10, names.REJECTED_ROWS: 2, names.REJECTS_URI: REJECTS, 'span': span}},
      properties={'input_base': '/data', 'input_config': json.dumps({'splits': [{'name': 'all',
                                                                                 'pattern': f'span-{span}/all.csv'}]}),
                  'custom_config': json.dumps(settings), 'span': span})


def _release(model_dir: str, version: str, production: str, warm_start: str) -> tuple:
  """Trainer, Evaluator and Pusher, each reading what the one before made."""
  return (Step('Trainer', inputs=(names.TRANSFORM_GRAPH,), outputs={names.MODEL: {names.WARM_START: warm_start}}),
          Step('Evaluator', inputs=(names.MODEL, names.EXAMPLES), outputs={
              names.EVALUATION: {names.ACCURACY: 0.875},
              names.BLESSING: {names.BLESSED: 1, names.BASELINE_VERSION_DIR: production}}),
          dataclasses.replace(stored_runs.pushed(version, model_dir), inputs=(names.MODEL, names.BLESSING)))


@pytest.fixture
def serving(tmp_path):
  """(the store, the serving model folder) after the three runs; version 9 is served but in no run."""
  model_dir = str(tmp_path / 'serving' / 'image_classifier')
  for version in ('1', '2', '9'):
    os.makedirs(os.path.join(model_dir, version))
    open(os.path.join(model_dir, version, names.SAVED_MODEL_FILE), 'wb').close()
  path = str(tmp_path / 'metadata.sqlite')
  stored_runs.add_run(path, 'visionflow', 'run-1', (
      _example_gen(3),
      Step('Transform', inputs=(names.EXAMPLES,), outputs={names.TRANSFORM_GRAPH: {}}),
      *_release(model_dir, '1', '', 'from scratch: no model in production')))
  stored_runs.add_run(path, 'visionflow', 'run-2', (
      Step('FileBasedExampleGen', 'CACHED', reused_from='run-1', properties={'input_base': '/data'}),
      Step('Transform', 'CACHED', inputs=(names.EXAMPLES,), reused_from='run-1'),
      *_release(model_dir, '2', f'{model_dir}/1', f'warm start from {model_dir}/1: 1 new training examples, '
                                                  f'1.0% of 100, under 10%: fine-tuned')))
  folder_settings = {'custom_config': {'value': {'layout': 'folder'}}}
  stored_runs.add_run(path, 'visionflow', 'run-3', (Step('FileBasedExampleGen', 'FAILED', properties={
      'input_base': '/images', 'input_config': json.dumps({'splits': [{'name': 'all', 'pattern': '*/*'}]}),
      'custom_config': json.dumps(folder_settings)}),))
  return runs_lib.open_store(path, read_only=True), model_dir


def test_a_version_leads_back_to_its_run_data_artifacts_and_the_models_before_it(serving):
  store, model_dir = serving
  found = lineage.version_lineage(store, model_dir, '2')
  first = lineage.ModelRef(f'{model_dir}/1', '1', 'run-1')
  assert (found.run_id, found.pushed) == ('run-2', lineage.ModelRef(f'{model_dir}/2', '2', 'run-2'))
  assert found.data == lineage.DataSource(layout='csv', path='/data/span-3/all.csv', span=3, first_span=2,
                                          accepted_rows=10, rejected_rows=2, rejects_uri=REJECTS,
                                          made_by_run='run-1')
  assert [(artifact.key, artifact.made_by_run) for artifact in found.artifacts] == [
      (names.EXAMPLES, 'run-1'), (names.TRANSFORM_GRAPH, 'run-1'), (names.MODEL, 'run-2'),
      (names.EVALUATION, 'run-2'), (names.BLESSING, 'run-2'), (names.PUSHED_MODEL, 'run-2')]
  assert (found.accuracy, found.blessed) == (0.875, True)
  assert found.compared_with == found.warm_started_from == first
  assert (found.reused_by, found.model_became) == ((), (found.pushed,))


def test_a_run_leads_forward_to_the_runs_that_reused_it_and_the_versions_it_became(serving):
  store, model_dir = serving
  found = lineage.run_lineage(store, 'run-1', model_dir)
  assert found.reused_by == (lineage.Reuse('run-2', ('FileBasedExampleGen', 'Transform')),)
  assert [ref.version for ref in found.model_became] == ['1']
  assert [(ref.version, ref.run_id) for ref in found.data_became] == [('1', 'run-1'), ('2', 'run-2')]
  assert (found.compared_with, found.warm_started_from) == (None, None)


def test_a_refused_image_folder_is_the_data_of_a_run_with_no_artifacts(serving):
  store, model_dir = serving
  found = lineage.run_lineage(store, 'run-3', model_dir)
  assert (found.data.layout, found.data.path, found.data.span, found.data.rejects_uri) == (
      'folder', '/images', None, None)
  assert (found.artifacts, found.pushed, found.model_became, found.data_became) == ((), None, (), ())
  lines = lineage.text_lines(found)
  assert {'Data: image folder /images, read by run run-3; rejects report none', 'Compared with: not evaluated',
          'Warm start: not recorded'} <= set(lines)


def test_the_text_names_each_link_of_the_chain(serving):
  store, model_dir = serving
  lines = lineage.text_lines(lineage.version_lineage(store, model_dir, '2'))
  assert lines[:3] == ['Run run-2', 'Pushed: version 2 (pushed by run run-2)',
                       f'Data: CSV /data/span-3/all.csv, spans 2 to 3, read by run run-1; 10 rows accepted, 2 '
                       f'rejected; rejects report {REJECTS}']
  assert '  Transform transform_graph (TransformGraph): /pipeline_root/Transform/transform_graph/run-1 (made by ' \
         'run run-1)' in lines
  assert 'Evaluation: test accuracy 0.8750, blessed' in lines
  assert 'Compared with: version 1 (pushed by run run-1)' in lines
  assert (f'Warm start: from version 1 (pushed by run run-1): warm start from {model_dir}/1: 1 new training '
          f'examples, 1.0% of 100, under 10%: fine-tuned') in lines


def test_a_version_no_run_pushed_is_named_in_one_line(serving):
  store, model_dir = serving
  with pytest.raises(lineage.UnknownVersion, match=f'^no pushed version 5 under {model_dir}: '):
    lineage.version_lineage(store, model_dir, '5')
  with pytest.raises(lineage.UnknownVersion, match='^version 9 under .* was pushed by no run in this metadata store'):
    lineage.version_lineage(store, model_dir, '9')
