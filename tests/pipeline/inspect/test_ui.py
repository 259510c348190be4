"""`visionflow ui` in a real headless Chromium, over a store that three real pipeline runs left behind.

The runs: a complete one that rejects two rows and pushes its model; a re-run with a stricter accuracy floor
that reuses every cached component but the Evaluator and Pusher, and is refused; and a run whose data is
refused by ExampleGen, so that nothing after it runs. The filter by pipeline is tested on a copy of that store
with a monitoring run added through ML Metadata's API (tests/pipeline/inspect/stored_runs.py). The comparison
pages read another store, the five cheap runs of tests/pipeline/conftest.py, and the Schedules page a folder of
local schedules made with the CLI, one of whose runs the real scheduler started. Screenshots of each page go to
$VISIONFLOW_TEST_ARTIFACTS/ui (default test-artifacts/ui in the repository).
"""
import contextlib
import getpass
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import tensorflow_model_analysis as tfma

from components import names
from pipeline import sample_data
from tests.pipeline.inspect import stored_runs
from tests.pipeline.inspect.stored_runs import Step

pytestmark = pytest.mark.slow

VISIONFLOW = os.path.join(os.path.dirname(sys.executable), 'visionflow')
REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCREENSHOTS = os.path.join(os.environ.get('VISIONFLOW_TEST_ARTIFACTS', os.path.join(REPOSITORY, 'test-artifacts')),
                           'ui')
SMALL_RUN = ('--epochs', '3', '--tuner-trials', '2', '--tuner-epochs', '2', '--min-slice-accuracy', '0')
MISSING_ROWS = ('missing/one.jpg,zero', 'missing/two.jpg,nine')


def _visionflow(*args):
  return subprocess.run([VISIONFLOW, *args], capture_output=True, text=True, timeout=1500)


def _run_id(stdout):
  return re.search(r'^Run (\S+) finished', stdout, re.MULTILINE).group(1)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  """{'output_dir', 'pushed', 'refused', 'failed'}: the output dir and the three runs' ids."""
  root = tmp_path_factory.mktemp('inspected')
  output_dir = str(root / 'out')
  csv_path, labels_path = sample_data.materialize_digits(str(root / 'data'), limit=200)
  with open(csv_path, 'a') as handle:
    handle.write('\n'.join(MISSING_ROWS) + '\n')
  data = ('--output-dir', output_dir, '--data-csv', csv_path, '--labels-file', labels_path)
  pushed = _visionflow('run', *data, *SMALL_RUN, '--min-accuracy', '0')  # the UI, not the model, is tested
  assert pushed.returncode == 0, pushed.stdout + pushed.stderr[-5000:]
  refused = _visionflow('run', *data, *SMALL_RUN, '--min-accuracy', '0.9999')
  assert refused.returncode == 1, refused.stdout + refused.stderr[-5000:]

  bad_csv, _ = sample_data.materialize_digits(str(root / 'bad'), limit=20)
  with open(bad_csv, 'a') as handle:
    handle.write('\n'.join(MISSING_ROWS) + '\n')
  failed = _visionflow('run', '--output-dir', output_dir, '--data-csv', bad_csv, '--labels-file', labels_path,
                       *SMALL_RUN)
  assert failed.returncode == 2, failed.stdout + failed.stderr[-5000:]
  listed = _visionflow('runs', '--output-dir', output_dir, '--state', 'failed').stdout.splitlines()
  return dict(output_dir=output_dir, csv_path=csv_path, bad_csv=bad_csv, pushed=_run_id(pushed.stdout),
              refused=_run_id(refused.stdout), failed=listed[1].split('\t')[0])


@contextlib.contextmanager
def _serving(output_dir, env=None):
  """`visionflow ui` over output_dir, in the environment given; yields its URL."""
  server = subprocess.Popen([VISIONFLOW, 'ui', '--output-dir', output_dir, '--port', '0'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
  try:
    line = server.stdout.readline()
    match = re.search(r'(http://127\.0\.0\.1:\d+)/', line)
    assert match, line + server.stderr.read()
    yield match.group(1)
  finally:
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope='module')
def ui_url(runs):
  with _serving(runs['output_dir']) as url:
    yield url


@pytest.fixture(scope='module')
def compare_url(compared_runs):
  """The UI over the store of tests/pipeline/conftest.py's compared runs."""
  with _serving(compared_runs.output_dir) as url:
    yield url


@pytest.fixture(scope='module')
def browser():
  chromium = shutil.which('chromium')
  if chromium is None:
    pytest.fail('chromium is not installed: `make test` installs it (apt-get install chromium)')
  from playwright.sync_api import sync_playwright
  with sync_playwright() as playwright:
    launched = playwright.chromium.launch(executable_path=chromium, args=['--no-sandbox'])
    yield launched
    launched.close()


@pytest.fixture
def page(browser, request):
  context = browser.new_context(viewport={'width': 1400, 'height': 900}, offline=False)
  remote = []
  opened = context.new_page()
  opened.on('request', lambda sent: remote.append(sent.url) if not sent.url.startswith(
      ('http://127.0.0.1', 'data:', 'about:')) else None)
  yield opened
  _snapshot(opened, request.node.name)
  context.close()
  assert remote == [], f'the page fetched from outside this machine: {remote}'


def _follow(page, link):
  """Clicks a link and waits until the page it leads to has loaded: reading the old page's rows is a race."""
  with page.expect_navigation():
    if isinstance(link, str):
      page.click(link)
    else:
      link.click()


def _snapshot(page, name):
  """A screenshot of the page as it is now, besides the one each test leaves of its last page."""
  os.makedirs(SCREENSHOTS, exist_ok=True)
  page.screenshot(path=os.path.join(SCREENSHOTS, f'{name}.png'), full_page=True)


def _tfma_accuracy(output_dir, execution_dir):
  result = tfma.load_eval_result(os.path.join(output_dir, 'pipeline_root', 'Evaluator', 'evaluation',
                                              execution_dir))
  return result.get_metrics_for_slice()[names.ACCURACY_METRIC]['doubleValue']


def test_runs_list_shows_every_run_newest_first_and_filters_by_state(page, ui_url, runs):
  page.goto(ui_url + '/')
  rows = page.locator('#runs tbody tr')
  assert rows.count() == 3
  assert [rows.nth(index).locator('td').first.inner_text() for index in range(3)] == [
      runs['failed'], runs['refused'], runs['pushed']]
  cells = [cell.inner_text() for cell in rows.nth(2).locator('td').all()]
  assert cells[1] == 'training' and cells[4:7] == ['COMPLETE', 'yes', cells[6]] and cells[6] != '-'
  assert [cell.inner_text() for cell in rows.nth(1).locator('td').all()][4:7] == ['COMPLETE', 'no', '-']
  assert page.locator('#runs td.started-by').all_inner_texts() == [f'by {getpass.getuser()}'] * 3
  page.select_option('#state-filter', 'failed')
  page.wait_for_url('**state=failed**')
  assert page.locator('#runs tbody tr').count() == 1
  assert page.locator('#run-count').inner_text().startswith('1 run failed')


def test_the_runs_list_filters_by_pipeline_and_names_a_bad_filter_value(page, runs, tmp_path):
  """The three runs' store, copied, with a monitoring run added that is in its ProductionMonitor now."""
  output_dir = str(tmp_path / 'out')
  os.makedirs(output_dir)
  shutil.copy(os.path.join(runs['output_dir'], 'metadata.sqlite'), output_dir)
  stored_runs.add_run(os.path.join(output_dir, 'metadata.sqlite'), 'visionflow-monitoring', 'monitoring-run',
                      (Step('FileBasedExampleGen'), Step('ProductionMonitor', 'RUNNING')))
  with _serving(output_dir) as url:
    page.goto(url + '/runs')
    assert page.locator('#runs tbody tr').count() == 4
    page.select_option('#pipeline-filter', 'monitoring')
    page.wait_for_url('**pipeline=monitoring**')
    [row] = [[cell.inner_text() for cell in row.locator('td').all()] for row in page.locator('#runs tbody tr').all()]
    assert (row[0], row[1], row[4]) == ('monitoring-run', 'monitoring', 'RUNNING at ProductionMonitor')
    assert page.locator('#run-count').inner_text() == '1 run monitoring, newest first.'
    _snapshot(page, 'runs_filtered_by_pipeline')
    page.select_option('#pipeline-filter', 'training')
    page.wait_for_url('**pipeline=training**')
    assert page.locator('#runs td.pipeline').all_inner_texts() == ['training'] * 3
    page.fill('#since-filter', '2099-01-01')  # the dates go with the Filter button: a day no run started on
    page.click('#apply-filter')
    page.wait_for_url('**since=2099-01-01**')
    assert page.locator('#runs tbody tr').count() == 0
    answer = page.goto(url + '/runs?pipeline=nightly&state=failed')
    assert answer.status == 400
    assert page.locator('#error').inner_text() == "no pipeline 'nightly': choose one of training, monitoring"


def test_evaluator_page_shows_the_accuracy_tfma_computed(page, ui_url, runs):
  page.goto(ui_url + '/')
  _follow(page, f'#runs a:text-is("{runs["pushed"]}")')
  _snapshot(page, 'pushed_run_components')
  _follow(page, 'a.dag-node[data-node="Evaluator"]')
  assert page.locator('#node-state').inner_text() == 'COMPLETE'
  _snapshot(page, 'pushed_run_evaluator')
  evaluation_uri = page.locator('td:text-is("evaluation") + td + td').inner_text()
  _follow(page, 'nav.tabs a:text-is("Evaluation")')
  expected = _tfma_accuracy(runs['output_dir'], os.path.basename(evaluation_uri))
  assert page.locator('#accuracy').inner_text() == f'{expected:.4f}'
  assert page.locator('#blessed').inner_text() == 'Blessed: yes, the model may be pushed.'
  assert 'Pushed as version' in page.locator('#pushed').inner_text()
  overall = page.locator('#report h2:text-is("Metrics per slice") ~ p.note + table tr:has(td:text-is("overall"))'
                         ).first.locator('td').all()
  assert overall[2].inner_text() == f'{expected:.4f}'
  gate = page.locator('#report h2:text-is("Blessing gates") ~ p.note + table tr:has(td:text-is("overall accuracy"))'
                      ).first.locator('td').all_inner_texts()
  assert gate[3] == f'{expected:.4f}' and gate[-1] == 'passed'
  assert re.fullmatch(r'0\.\d{4} to [01]\.\d{4}', gate[4]), gate  # the 95% interval
  assert page.locator('#report h2:text-is("Fairness Indicators")').count() == 1
  assert page.locator('#report svg text:text-is("predicted class")').count() == 1
  # The heatmaps of explained test images, inline in the report: each one decoded by the browser.
  heatmaps = page.locator('#report h2:text-is("What the model looked at") ~ table#explanations img.heatmap')
  assert heatmaps.count() > 0
  assert heatmaps.evaluate_all('images => images.every(image => image.complete && image.naturalWidth >= 128)')


# Points every unit along each edge of svg#dag that lie inside a box other than the edge's two ends (boxes
# shrunk by a unit, so that an edge touching its own box's corner is not counted), in the SVG's coordinates.
EDGES_THROUGH_BOXES = """svg => {
  const boxes = [...svg.querySelectorAll('.dag-node')].map(node => {
    const rect = node.querySelector('rect');
    return {name: node.dataset.node, x: rect.x.baseVal.value + 1, y: rect.y.baseVal.value + 1,
            right: rect.x.baseVal.value + rect.width.baseVal.value - 1,
            bottom: rect.y.baseVal.value + rect.height.baseVal.value - 1};
  });
  const crossings = [];
  for (const edge of svg.querySelectorAll('path.dag-edge')) {
    const length = edge.getTotalLength();
    for (let along = 0; along <= length; along += 1) {
      const point = edge.getPointAtLength(along);
      for (const box of boxes) {
        if (box.name !== edge.dataset.tail && box.name !== edge.dataset.head && point.x > box.x
            && point.x < box.right && point.y > box.y && point.y < box.bottom) {
          crossings.push(`${edge.dataset.tail} -> ${edge.dataset.head} crosses ${box.name}`);
        }
      }
    }
  }
  return [...new Set(crossings)];
}"""


def test_the_dag_fits_a_1280_px_page_without_scrolling_and_no_edge_crosses_a_box(page, ui_url, runs):
  page.set_viewport_size({'width': 1280, 'height': 1100})
  page.goto(ui_url + '/runs/' + runs['pushed'])
  dag = page.locator('svg#dag')
  box = dag.bounding_box()
  assert box['x'] >= 0 and box['x'] + box['width'] <= 1280, box
  assert page.evaluate('document.documentElement.scrollWidth <= document.documentElement.clientWidth')
  nodes, edges = page.locator('svg#dag .dag-node').count(), page.locator('svg#dag path.dag-edge').count()
  assert nodes == 10 and edges >= nodes - 1  # every step, and at least the edges that join them
  assert dag.evaluate(EDGES_THROUGH_BOXES) == []


def test_without_graphviz_the_run_page_says_how_to_install_it_and_still_lists_every_step(page, runs, tmp_path):
  without_dot = dict(os.environ, PATH=str(tmp_path))  # an empty folder: no dot on the PATH
  with _serving(runs['output_dir'], env=without_dot) as url:
    page.goto(url + '/runs/' + runs['pushed'])
    assert "install Debian's graphviz (apt-get install graphviz)" in page.locator('#dag-unavailable').inner_text()
    assert page.locator('svg#dag').count() == 0
    assert page.locator('#components tbody tr').count() == 10
    _snapshot(page, 'run_without_graphviz')
    _follow(page, '#components a:text-is("Evaluator")')
    assert page.locator('#node-state').inner_text() == 'COMPLETE'


def _report_table(page, title):
  """{first cell: the row's cells} of the evaluation report's table with this title, and its header."""
  table = page.locator(f'#report h2:text-is("{title}") ~ p.note + table').first
  rows = [row.locator('td').all_inner_texts() for row in table.locator('tbody tr').all()]
  return {cells[0]: cells for cells in rows}, table.locator('th').all_inner_texts()


def test_the_evaluation_page_shows_n_a_for_aucs_on_slices_of_one_true_class(page, ui_url, runs):
  page.goto(ui_url + '/runs/' + runs['pushed'] + '/evaluation')
  per_slice, header = _report_table(page, 'Metrics per slice')
  assert header[-2:] == ['AUC-ROC', 'AUC-PR']
  by_class = {label.split('=', 1)[1]: cells for label, cells in per_slice.items() if label.startswith('label=')}
  assert by_class and all(cells[-2:] == ['n/a', 'n/a'] for cells in by_class.values()), by_class
  # On the overall slice, which holds several classes, each class in the test split has its AUCs.
  per_class, header = _report_table(page, 'Per class, overall slice')
  aucs = {name.split(': ', 1)[1]: cells[header.index('AUC-ROC'):header.index('AUC-PR') + 1]
          for name, cells in per_class.items() if ': ' in name}
  assert all(re.fullmatch(r'[01]\.\d{4}', auc) for name in by_class for auc in aucs[name]), aucs
  assert all(aucs[name] == ['n/a', 'n/a'] for name in set(aucs) - set(by_class)), aucs
  # The macro average needs every class in the slice.
  every_class = set(by_class) == set(aucs)
  assert (per_slice['overall'][-2:] != ['n/a', 'n/a']) == every_class, (per_slice['overall'], by_class)


def test_a_refused_run_shows_what_was_cached_and_why_nothing_was_pushed(page, ui_url, runs):
  page.goto(ui_url + '/runs/' + runs['refused'])
  states = {row.locator('td').nth(0).inner_text(): row.locator('td').nth(1).inner_text()
            for row in page.locator('#components tbody tr').all()}
  assert states.pop('Evaluator') == states.pop('Pusher') == 'COMPLETE'
  # Every cached step names the run whose outputs it reused: the first run, which pushed.
  assert set(states.values()) == {f'CACHED (reused from {runs["pushed"]})'} and len(states) == 8
  assert page.locator('svg#dag a.dag-node').count() == 10
  _follow(page, 'nav.tabs a:text-is("Evaluation")')
  assert page.locator('#blessed').inner_text() == 'Blessed: no, the model is not pushed.'
  reasons = page.locator('#decision li.reason').all_inner_texts()
  assert any(re.match(r'Reason: sparse_categorical_accuracy on slice overall is [0-9.]+ \(95% interval '
                      r'[0-9.]+-[0-9.]+, \d+ examples\), below the minimum 0\.9999', reason)
             for reason in reasons), reasons
  assert 'Compared with the model in production' in page.locator('#decision').inner_text()


def test_data_page_shows_rejects_statistics_and_anomalies(page, ui_url, runs):
  page.goto(ui_url + '/runs/' + runs['pushed'] + '/data')
  assert page.locator('#accepted-rows').inner_text() == '200'
  assert page.locator('#rejected-rows').inner_text() == '2'
  rejects = [[cell.inner_text() for cell in row.locator('td').all()]
             for row in page.locator('#rejects tbody tr').all()]
  assert rejects == [['201', 'missing/one.jpg', 'zero', 'image file not found', runs['csv_path']],
                     ['202', 'missing/two.jpg', 'nine', 'image file not found', runs['csv_path']]]
  assert page.locator('h3').all_inner_texts()[0].startswith('train: ')
  assert sum(int(text.split(': ')[1].split()[0]) for text in page.locator('h3').all_inner_texts()) == 200
  assert page.locator('svg[aria-label="Label distribution, train"] rect').count() == 10
  assert set(page.locator('#anomalies td:nth-child(2)').all_inner_texts()) == {'no anomalies'}


def test_training_page_shows_curves_and_trials(page, ui_url, runs):
  page.goto(ui_url + '/runs/' + runs['pushed'] + '/training')
  assert page.locator('#curves svg').count() == 2  # accuracy and loss
  assert page.locator('#curves polyline').count() == 4  # train and validation in each
  legends = page.locator('#curves text').all_text_contents()
  assert any(text.startswith('validation (last ') for text in legends)
  assert page.locator('#trials tbody tr').count() == 2
  assert {'learning_rate', 'dropout'} <= set(page.locator('#best-hyperparameters th').all_inner_texts())


def test_a_run_refused_by_example_gen_shows_the_failure_and_the_steps_never_run(page, ui_url, runs):
  page.goto(ui_url + '/')
  _follow(page, f'#runs a:text-is("{runs["failed"]}")')
  assert page.locator('#run-state').inner_text() == 'FAILED'
  assert page.locator('#run-started-by').inner_text() == f'by {getpass.getuser()}'
  states = {row.locator('td').nth(0).inner_text(): row.locator('td').nth(1).inner_text()
            for row in page.locator('#components tbody tr').all()}
  assert states.pop('FileBasedExampleGen') == 'FAILED'
  assert set(states.values()) == {'NOT RUN'} and len(states) == 9
  refusal = 'accepted 20, rejected 2 of 22 rows (9.1%), above max_reject_fraction=0.05'
  assert refusal in page.locator('p.error').inner_text()
  _snapshot(page, 'failed_run_components')
  _follow(page, 'a.dag-node[data-node="FileBasedExampleGen"]')
  assert 'RejectedRowsError' in page.locator('#error').inner_text()
  assert refusal in page.locator('#log').inner_text()
  _snapshot(page, 'failed_run_example_gen')
  _follow(page, 'nav.tabs a:text-is("Data")')
  assert refusal in page.locator('#failure').inner_text()
  rejects = [[cell.inner_text() for cell in row.locator('td').all()]
             for row in page.locator('#rejects tbody tr').all()]
  assert rejects == [['21', 'missing/one.jpg', 'zero', 'image file not found', runs['bad_csv']],
                     ['22', 'missing/two.jpg', 'nine', 'image file not found', runs['bad_csv']]]
  _snapshot(page, 'failed_run_data')
  _follow(page, 'nav.tabs a:text-is("Evaluation")')
  assert 'The Evaluator did not run in this run.' in page.inner_text('main')


def test_models_page_names_the_run_that_pushed_each_version(page, ui_url, runs):
  page.goto(ui_url + '/models')
  [row] = page.locator('#models tbody tr').all()
  assert row.locator('td').nth(2).locator('a').inner_text() == runs['pushed']
  pushed = glob.glob(os.path.join(runs['output_dir'], 'serving', 'image_classifier', '*', 'saved_model.pb'))
  assert row.locator('td').nth(1).inner_text() == os.path.dirname(pushed[0])


def test_models_page_links_each_version_to_its_model_card(page, ui_url, runs):
  page.goto(ui_url + '/models')
  version = page.locator('#models tbody tr td').first.inner_text().split()[0]
  _follow(page, '#models a.card')
  _snapshot(page, 'model_card')
  card = page.inner_text('#model-card')
  assert f'Model card: image_classifier, version {version}' in card
  assert runs['pushed'] in card  # the lineage names the run that pushed it
  assert 'Accuracy per slice (test split)' in card and 'Fairness Indicators' in card
  assert page.goto(ui_url + '/models/1/card').status == 404


def test_show_json_lists_inputs_and_upstream_components(runs):
  shown = _visionflow('show', runs['pushed'], '--output-dir', runs['output_dir'], '--json')
  nodes = {node['node_id']: node for node in json.loads(shown.stdout)}
  assert nodes['Trainer']['upstream'] == ['SchemaGen', 'Transform', 'Tuner']
  assert {artifact['key'] for artifact in nodes['Pusher']['inputs']} == {
      'evaluation', 'examples', 'model', 'model_blessing'}


def test_runs_ticked_on_the_runs_page_are_compared_with_the_rows_that_differ_highlighted(page, compare_url,
                                                                                         compared_runs):
  page.goto(compare_url + '/')
  page.check(f'#runs input[value="{compared_runs.first}"]')
  page.check(f'#runs input[value="{compared_runs.retrained}"]')
  page.click('#compare')
  page.wait_for_url('**/compare?runs=*')
  assert page.locator('#test-sets.same').inner_text().startswith('Same test set: ')
  assert [cell.inner_text() for cell in page.locator('#settings thead th').all()][1:] == [
      compared_runs.first, compared_runs.retrained]
  epochs = page.locator('#settings tr:has(th:text-is("Trainer: epochs"))')
  assert epochs.get_attribute('class') == 'differs' and epochs.locator('td').all_inner_texts() == ['2', '3']
  assert page.locator('#data tr.differs').count() == 0
  assert page.locator('#data tr:has(th:text-is("rows accepted")) td').all_inner_texts() == ['200', '200']
  assert page.locator('#steps tr.differs:has(th:text-is("FileBasedExampleGen"))').count() == 1
  paired = page.locator(f'#accuracy-per-slice tr:has(th:text-is("overall: paired change against run '
                        f'{compared_runs.first}")) td').all_inner_texts()
  assert paired[0] == '-' and re.fullmatch(r'[+-]\d\.\d{4} \(95% interval [+-]\d\.\d{4} to [+-]\d\.\d{4}; \d+ '
                                           r'paired examples, .*\)', paired[1]), paired
  # One chart per metric, each with both runs' train and validation curves, a colour per run in the legend.
  assert page.locator('#curves svg').count() == 2
  assert page.locator('#curves svg[aria-label="accuracy"] polyline').count() == 4
  legend = page.locator('#curves svg[aria-label="accuracy"] text').all_text_contents()
  assert {f'run {compared_runs.first}', f'run {compared_runs.retrained}', 'train', 'validation'} <= set(legend)


def test_runs_on_other_test_sets_are_flagged_at_the_top_and_their_accuracies_not_compared(page, compare_url,
                                                                                         compared_runs):
  page.goto(f'{compare_url}/compare?runs={compared_runs.first},{compared_runs.other_data}')
  assert page.locator('#test-sets.differ').inner_text().startswith(
      'Test sets differ: accuracies are not comparable')
  assert page.locator('#accuracy-per-slice tr.differs').count() == 0
  assert page.locator('#accuracy-per-slice tr').count() > 1
  assert page.locator('#data tr.differs:has(th:text-is("rows accepted"))').count() == 1


def test_a_comparison_that_cannot_be_made_is_one_line_with_its_status(page, compare_url, compared_runs):
  assert page.goto(f'{compare_url}/compare?runs={compared_runs.first}').status == 400
  assert page.locator('#error').inner_text() == 'compare 2 to 4 runs, not 1 (see `visionflow runs`)'
  assert page.goto(f'{compare_url}/compare?runs={compared_runs.first},nope').status == 404
  assert page.locator('#error').inner_text().startswith("no run 'nope' in the metadata store")


def _pushed_version(runs):
  [saved_model] = glob.glob(os.path.join(runs['output_dir'], 'serving', 'image_classifier', '*', 'saved_model.pb'))
  return os.path.basename(os.path.dirname(saved_model))


def test_a_lineage_walk_from_a_pushed_version_to_its_rejected_rows_and_back(page, ui_url, runs):
  version = _pushed_version(runs)
  page.goto(ui_url + '/models')
  _follow(page, '#models a.lineage')
  assert page.locator('#lineage-version').inner_text() == version
  assert page.locator('#lineage-run').inner_text() == runs['pushed']
  assert (page.locator('#lineage-source').inner_text(), page.locator('#lineage-rejected').inner_text()) == (
      runs['csv_path'], '2')
  assert page.locator('#lineage-artifacts tbody td:first-child').all_inner_texts() == [
      'FileBasedExampleGen', 'Transform', 'Trainer', 'Evaluator', 'Evaluator', 'Pusher']
  assert page.locator('#lineage-compared-with').inner_text() == 'no model in production'
  # The refused re-run reused every output of this run but the Evaluator's and the Pusher's.
  [reuse] = page.locator('#lineage-reused-by div').all_inner_texts()
  assert reuse.startswith(f'{runs["refused"]}: ') and len(reuse.split(': ', 1)[1].split(', ')) == 8
  _snapshot(page, 'version_lineage')
  _follow(page, '#lineage-data a.rejects')
  assert page.url == f'{ui_url}/runs/{runs["pushed"]}/data'
  assert page.locator('#rejects tbody td:nth-child(4)').all_inner_texts() == ['image file not found'] * 2
  _snapshot(page, 'lineage_rejected_rows')
  _follow(page, '#data-became a.version')
  assert page.locator('#lineage-version').inner_text() == version


def test_a_run_pages_lineage_links_the_model_it_was_compared_with_and_what_its_model_became(page, ui_url, runs):
  version = _pushed_version(runs)
  page.goto(ui_url + '/runs/' + runs['refused'])
  assert page.locator('#lineage-pushed').inner_text() == 'no version'
  for row in ('compared-with', 'model-became'):  # the refused run reused the model that the first run pushed
    assert page.locator(f'#lineage-{row} a.version').inner_text() == f'version {version}'
    assert page.locator(f'#lineage-{row} a.run').inner_text() == runs['pushed']
  _snapshot(page, 'refused_run_lineage')
  page.goto(ui_url + '/runs/' + runs['failed'])
  assert page.locator('#lineage-source').inner_text() == runs['bad_csv']
  assert page.locator('#lineage-artifacts').count() == 0
  answer = page.goto(ui_url + '/models/1/lineage')
  assert answer.status == 404
  assert page.locator('#error').inner_text().startswith('no pushed version 1 under ')


def test_show_lineage_prints_the_chain_the_ui_shows(runs):
  version = _pushed_version(runs)
  shown = _visionflow('show', '--lineage', version, '--output-dir', runs['output_dir'])
  assert shown.returncode == 0, shown.stderr
  lines = shown.stdout.splitlines()
  assert lines[:2] == [f'Run {runs["pushed"]}', f'Pushed: version {version} (pushed by run {runs["pushed"]})']
  assert lines[2].startswith(f'Data: CSV {runs["csv_path"]}, span 0, read by run {runs["pushed"]}; 200 rows '
                             f'accepted, 2 rejected; rejects report ')
  assert any(line.startswith(f'Reused by later runs: {runs["refused"]} (') for line in lines), lines
  unknown = _visionflow('show', '--lineage', '1', '--output-dir', runs['output_dir'])
  assert (unknown.returncode, len(unknown.stderr.splitlines())) == (2, 1), unknown.stderr


@pytest.fixture(scope='module')
def schedules_url(scheduled_runs):
  """The UI over the folder of local schedules of tests/pipeline/conftest.py."""
  with _serving(scheduled_runs.output_dir) as url:
    yield url


def _schedule_files(output_dir):
  """{path: contents} of every file in the folder's schedules, the scheduler's lock and console output included."""
  found = {}
  for root, _, files in os.walk(os.path.join(output_dir, 'schedules')):
    for name in files:
      with open(os.path.join(root, name), 'rb') as handle:
        found[os.path.join(root, name)] = handle.read()
  return found


def test_the_schedules_page_shows_each_schedule_as_schedule_list_does_and_changes_none(page, schedules_url,
                                                                                       scheduled_runs):
  output_dir = scheduled_runs.output_dir
  before = _schedule_files(output_dir)
  page.goto(schedules_url + '/')
  _follow(page, 'header a:text-is("Schedules")')
  rows = {row.locator('td.name').inner_text(): row for row in page.locator('#schedules tbody tr').all()}
  assert list(rows) == ['broken', 'nightly', 'weekly']
  columns = ('status', 'job', 'triggers', 'next-slot', 'last-trigger', 'last-outcome', 'catchup')
  shown = {name: {column: rows[name].locator(f'td.{column}').inner_text() for column in columns}
           for name in ('nightly', 'weekly')}
  listed = _visionflow('schedule', 'list', '--local', '--output-dir', output_dir)
  assert listed.returncode == 0, listed.stderr
  by_cli = {line.split('\t')[0]: line.split('\t') for line in listed.stdout.splitlines()[1:] if '\t' in line}
  for name, cells in shown.items():
    assert [cells[column] for column in columns[:5]] == by_cli[name][1:6]
    assert cells['last-outcome'].startswith(by_cli[name][6])
  assert [shown['nightly'][column] for column in ('status', 'job', 'triggers', 'catchup')] == [
      'ACTIVE', 'retrain', 'every 1d', 'no: missed slots run once']
  assert [shown['weekly'][column] for column in ('status', 'triggers', 'catchup', 'last-trigger')] == [
      'PAUSED', 'cron 0 2 * * 1', 'yes: each missed slot runs', '-']
  assert re.fullmatch(r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d', shown['nightly']['next-slot'])
  assert shown['nightly']['last-trigger'] == scheduled_runs.trigger
  assert shown['nightly']['last-outcome'].startswith('ended: COMPLETE, ')
  assert shown['nightly']['last-outcome'].endswith(f' (run {scheduled_runs.run_id})')
  assert rows['broken'].locator('td.status').inner_text() == 'UNREADABLE'
  assert 'broken.json is unreadable' in rows['broken'].locator('td.problem').inner_text()
  assert page.locator('#scheduler-command').inner_text() == f'visionflow scheduler --output-dir {output_dir}'
  assert _schedule_files(output_dir) == before


def test_a_schedules_runs_and_trigger_history_link_the_run_it_started(page, schedules_url, scheduled_runs):
  run_id, trigger = scheduled_runs.run_id, scheduled_runs.trigger
  page.goto(schedules_url + '/schedules')
  nightly = page.locator('section[id="schedule-nightly"]')
  history = [row.locator('td').all_inner_texts() for row in nightly.locator('table.schedule-history tbody tr').all()]
  assert [row[1:] for row in history] == [[trigger, history[0][2], run_id], [trigger, 'started', '-']]
  assert history[0][2].startswith('ended: COMPLETE, ') and history[0][0] >= history[1][0]  # newest first
  [started] = [row.locator('td').all_inner_texts() for row in nightly.locator('table.schedule-runs tbody tr').all()]
  assert (started[0], started[2]) == (run_id, trigger)
  weekly = page.locator('section[id="schedule-weekly"]').inner_text()
  assert 'It has started no run yet.' in weekly and 'No trigger has fired yet.' in weekly
  _follow(page, nightly.locator(f'table.schedule-runs a:text-is("{run_id}")'))
  assert page.locator('#run-id').inner_text() == run_id
  assert page.locator('#run-started-by').inner_text() == trigger
  _follow(page, 'header a:text-is("Runs")')
  assert page.locator(f'#runs tr:has(a:text-is("{run_id}")) td.started-by').inner_text() == trigger


@pytest.mark.timeout(240)
def test_the_schedules_page_names_the_scheduler_that_runs_for_its_folder(page, schedules_url, scheduled_runs,
                                                                         tmp_path):
  """A real scheduler over the folder, with nothing due: `nightly`'s next slot is a day away, `weekly` paused."""
  console_path = str(tmp_path / 'scheduler.txt')
  with open(console_path, 'w') as console:
    scheduler = subprocess.Popen([VISIONFLOW, 'scheduler', '--output-dir', scheduled_runs.output_dir, '--tick', '0.5'],
                                 stdout=console, stderr=subprocess.STDOUT)
  try:
    deadline = time.monotonic() + 120
    while True:  # it says so once it holds the folder's scheduler lock
      with open(console_path, encoding='utf-8') as console:
        if console.read().startswith('Scheduler for '):
          break
      assert scheduler.poll() is None, f'the scheduler exited with {scheduler.returncode}'
      assert time.monotonic() < deadline, 'the scheduler did not start within 120 s'
      time.sleep(0.5)
    page.goto(schedules_url + '/schedules')
    assert re.fullmatch(rf'A scheduler runs for this folder, firing its schedules: process {scheduler.pid} on \S+, '
                        r'started [0-9: -]+\.', page.locator('#scheduler').inner_text())
    assert page.locator('#scheduler-command').count() == 0
  finally:
    scheduler.terminate()
    scheduler.wait(timeout=60)
  page.reload()
  assert page.locator('#scheduler-command').count() == 1


def test_the_schedules_page_of_a_folder_without_schedules_says_how_to_make_one(page, ui_url, runs):
  page.goto(ui_url + '/schedules')
  assert page.locator('#schedules').count() == 0
  assert 'visionflow schedule create --local NAME --every 1d' in page.locator('#no-schedules').inner_text()
  assert page.locator('#scheduler-command').inner_text() == f'visionflow scheduler --output-dir {runs["output_dir"]}'


# A run that reaches the Trainer quickly and then trains for a while: 30 epochs, none cut short by early stopping.
LIVE_RUN = ('--tuner-trials', '0', '--epochs', '30', '--patience', '30')
EPOCH_LINE = r'Trainer: epoch (\d+) of 30, eval accuracy [01]\.\d{4}'


def _log_saying(output_dir, text, running, timeout_s):
  """The path of the run's log once it holds `text`; fails when the run exits first or `timeout_s` passes."""
  deadline = time.monotonic() + timeout_s
  while time.monotonic() < deadline:
    assert running.poll() is None, f'the run exited with {running.returncode} before its log said {text!r}'
    for path in glob.glob(os.path.join(output_dir, 'logs', 'run-*.log')):
      with open(path, encoding='utf-8', errors='replace') as handle:
        if text in handle.read():
          return path
    time.sleep(1)
  pytest.fail(f'the run did not log {text!r} within {timeout_s} s')


def _epoch_number(text):
  match = re.fullmatch(EPOCH_LINE, text)
  assert match, text
  return int(match.group(1))


@pytest.mark.timeout(240)
def test_a_running_runs_page_follows_its_epochs_without_a_reload_and_says_when_the_run_is_abandoned(
    page, browser, tmp_path):
  """A real `visionflow run` on the embedded sample, followed in the Trainer, then killed as `kill -9` would."""
  from playwright.sync_api import expect
  output_dir = str(tmp_path / 'out')
  with open(tmp_path / 'console.txt', 'w') as console:
    running = subprocess.Popen([VISIONFLOW, 'run', '--output-dir', output_dir, *LIVE_RUN], stdout=console,
                               stderr=subprocess.STDOUT, start_new_session=True)
  try:
    # Training has begun: the store records the Trainer running (the log names a step before the store has it).
    run_id = os.path.basename(_log_saying(output_dir, 'Trainer epoch 1/30', running, 170))[4:-4]
    with _serving(output_dir) as url:
      runs_list = page.context.new_page()
      runs_list.goto(url + '/runs')
      runs_list.evaluate('window.notReloaded = true')
      listed_state = runs_list.locator(f'#runs tr:has(a:text-is("{run_id}")) td').nth(4)
      assert listed_state.inner_text() == 'RUNNING at Trainer'
      polls = []
      page.on('request', lambda sent: polls.append(sent.url) if sent.url.endswith('/status.json') else None)
      page.goto(f'{url}/runs/{run_id}')
      page.evaluate('window.notReloaded = true')
      epoch = page.locator('#live-epoch')
      expect(epoch).to_have_text(re.compile(EPOCH_LINE), timeout=10_000)
      first = epoch.inner_text()
      expect(epoch).not_to_have_text(first, timeout=30_000)
      assert _epoch_number(epoch.inner_text()) > _epoch_number(first)
      assert page.evaluate('window.notReloaded') is True
      assert re.fullmatch(r'Trainer running for \d+ s', page.locator('#live-step').inner_text())
      assert page.locator('#run-state').inner_text() == 'RUNNING at Trainer'
      trainer_state = page.locator('#components tr:has(a:text-is("Trainer")) td').nth(1)
      assert trainer_state.inner_text() == 'RUNNING'
      # The running step's duration is its time so far, in the table and the drawing (the store has none yet).
      trainer_seconds = page.locator('#components tr:has(a:text-is("Trainer")) td').nth(2).inner_text()
      assert float(trainer_seconds.removesuffix(' s')) > 0, trainer_seconds
      _snapshot(page, 'run_followed_in_the_trainer')

      # The CLI says the same: `visionflow show RUN` starts with what the run is doing now.
      shown = _visionflow('show', run_id, '--output-dir', output_dir)
      assert shown.returncode == 0, shown.stderr
      assert shown.stdout.splitlines()[0] == 'State: RUNNING at Trainer', shown.stdout
      assert re.search(r'^Trainer running for \d+ s$', shown.stdout, re.MULTILINE), shown.stdout
      assert re.search(r'^Trainer: epoch \d+ of 30', shown.stdout, re.MULTILINE), shown.stdout

      without_script = browser.new_context(java_script_enabled=False)
      try:  # the same page, rendered whole by the server
        static = without_script.new_page()
        static.goto(f'{url}/runs/{run_id}')
        assert static.locator('#run-state').inner_text() == 'RUNNING at Trainer'
        _epoch_number(static.locator('#live-epoch').inner_text())
      finally:
        without_script.close()

      os.killpg(running.pid, signal.SIGKILL)
      running.wait(timeout=60)
      expect(page.locator('#run-state')).to_have_text('ABANDONED at Trainer', timeout=30_000)
      assert "The run's process is gone" in page.locator('#live-note').inner_text()
      assert page.locator('#live-step').is_hidden()
      assert trainer_state.inner_text() == 'ABANDONED'
      assert page.evaluate('window.notReloaded') is True
      _snapshot(page, 'run_followed_until_abandoned')
      polled = len(polls)
      page.wait_for_timeout(5_000)  # more than two polls' time
      assert len(polls) == polled, 'the page went on polling a run that was abandoned'
      expect(listed_state).to_have_text('ABANDONED at Trainer', timeout=20_000)  # the list, without a reload too
      assert runs_list.evaluate('window.notReloaded') is True
  finally:
    if running.poll() is None:
      os.killpg(running.pid, signal.SIGKILL)
      running.wait(timeout=60)
