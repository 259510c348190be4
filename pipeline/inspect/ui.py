"""`visionflow ui`: a read-only web UI over a local run's metadata store, artifacts and logs, and the output
folder's local schedules.

Server-rendered pages with inline SVG and CSS: nothing is fetched from the internet, so it works offline. A
running run's page and the Runs list follow the run with a small inline script; without it they show the same
as of their loading.
It binds to loopback unless told otherwise, and never writes to the store or the schedules.
"""
import dataclasses
import functools
import http.server
import json
import math
import os
import re
import socket
import time
import traceback
import urllib.parse
from typing import Any, Callable, ClassVar, Dict, FrozenSet, List, Optional, Tuple

import jinja2

from components import names
from components import paths
from components.monitor import history
from components.reports import artifact_contents
from components.reports import charts
from components.reports import dag_layout
from components.reports import report_format
from pipeline.inspect import compare as compare_lib
from pipeline.inspect import lineage as lineage_lib
from pipeline.inspect import live
from pipeline.inspect import run_logs
from pipeline.inspect import runs as runs_lib
from pipeline import run_process
from pipeline.scheduling import scheduler as scheduler_lib
from pipeline.scheduling import schedules as schedules_lib

RUNS_PER_PAGE = 25
SCHEDULE_ROWS = 50  # a schedule's newest runs and triggers shown; every 15 minutes, a year holds 35,000
POLL_INTERVAL_MS = 2000


class NotFound(Exception):
  """A run, component or artifact the page asks for is not in the store."""


class BadRequest(Exception):
  """The request cannot be answered as asked (a filter's value it cannot read, runs it cannot compare); the
  message says why: 400."""


@dataclasses.dataclass(frozen=True)
class Sources:
  """Where a local run keeps what the UI reads."""
  metadata_path: str
  log_dir: str
  serving_model_dir: str
  output_dir: str  # the folder whose local schedules the Schedules page shows


class Page:
  """What one page's template renders: each page is a frozen dataclass whose fields are its template's
  variables, with the header's section it belongs to."""
  section: ClassVar[str]

  def template_variables(self) -> Dict[str, Any]:
    """The fields by name, not copied deep, so that the views inside keep their properties."""
    return {**{field.name: getattr(self, field.name) for field in dataclasses.fields(self)},
            'section': self.section}


@dataclasses.dataclass(frozen=True)
class RunsPage(Page):
  section: ClassVar[str] = 'runs'
  runs: List[runs_lib.RunView]
  total: int  # runs the filter admits, on every page
  run_filter: runs_lib.RunFilter
  states: Tuple[str, ...]
  pipelines: Tuple[str, ...]
  page: int
  pages: int


@dataclasses.dataclass(frozen=True)
class RunPage(Page):
  section: ClassVar[str] = 'run'
  run: runs_lib.RunView
  dag_svg: str  # '' where dot could not lay the DAG out
  dag_unavailable: Optional[str]  # why not, in one line, instead of the drawing
  steps: List[Tuple[str, Optional[runs_lib.NodeView]]]  # every component of the DAG; None where it did not run
  log_path: Optional[str]
  errors: List[Tuple[str, str]]  # (component, the last line of why it failed)
  lineage: lineage_lib.Lineage
  status: live.RunStatus
  poll_interval_ms: int  # how often the page's script asks for the status while the run goes on


@dataclasses.dataclass(frozen=True)
class NodePage(Page):
  section: ClassVar[str] = 'run'
  run: runs_lib.RunView
  node: runs_lib.NodeView
  boilerplate: FrozenSet[str]  # artifact properties not shown
  error: Optional[str]
  execution_properties: Dict[str, Any]
  log_lines: Optional[List[str]]  # None without a log for the run
  max_log_lines: int


@dataclasses.dataclass(frozen=True)
class SplitStatistics:
  """One split's statistics as the data page shows them."""
  name: str
  examples: int
  features: List[Tuple[artifact_contents.FeatureSummary, List[Tuple[str, float]]]]  # (feature, its top values)
  charts: List[Tuple[str, str]]  # (title, SVG)


@dataclasses.dataclass(frozen=True)
class DataPage(Page):
  section: ClassVar[str] = 'data'
  run: runs_lib.RunView
  examples: Optional[runs_lib.ArtifactView]
  rejects_header: List[str]
  rejects: List[List[str]]
  splits: List[SplitStatistics]
  failure: Optional[Tuple[str, str]]  # (component, the last line of why it failed)
  rejects_path: Optional[str]
  anomalies: Optional[Dict[str, List[artifact_contents.Anomaly]]]  # None where the ExampleValidator did not run
  lineage: lineage_lib.Lineage  # for the versions trained on this data


@dataclasses.dataclass(frozen=True)
class TrainingPage(Page):
  section: ClassVar[str] = 'training'
  run: runs_lib.RunView
  model_run: Optional[runs_lib.ArtifactView]
  curves: List[str]  # one SVG chart per metric
  best_hyperparameters: Optional[Dict[str, object]]
  trial_columns: List[str]
  trials: List[Dict[str, object]]


@dataclasses.dataclass(frozen=True)
class EvaluationPage(Page):
  section: ClassVar[str] = 'evaluation'
  run: runs_lib.RunView
  outcome: runs_lib.RunOutcome
  evaluated: bool
  has_blessing: bool
  has_push: bool
  report: Optional[str]  # the report's tables and charts, as HTML
  report_path: Optional[str]


@dataclasses.dataclass(frozen=True)
class PushedVersion:
  """One version in the serving directory, and the run that pushed it where the store knows it."""
  version: int
  directory: str
  run_id: Optional[str]
  accuracy: Optional[float]
  has_card: bool


@dataclasses.dataclass(frozen=True)
class ModelsPage(Page):
  section: ClassVar[str] = 'models'
  model_dir: str
  versions: List[PushedVersion]  # newest first


@dataclasses.dataclass(frozen=True)
class ModelCardPage(Page):
  section: ClassVar[str] = 'models'
  version: str
  path: str
  card: str  # the card's body, as HTML


@dataclasses.dataclass(frozen=True)
class LineagePage(Page):
  section: ClassVar[str] = 'models'
  version: str
  lineage: lineage_lib.Lineage


@dataclasses.dataclass(frozen=True)
class ProductionPage(Page):
  section: ClassVar[str] = 'production'
  measurements: List[runs_lib.ProductionMeasurement]  # newest first
  slices: List[str]
  rules: Optional[history.AlertRules]  # the newest measurement's


@dataclasses.dataclass(frozen=True)
class ComparePage(Page):
  section: ClassVar[str] = 'runs'
  comparison: compare_lib.Comparison
  curves: List[str]  # one SVG chart per metric, every run's curves overlaid


@dataclasses.dataclass(frozen=True)
class ScheduleView:
  """One schedule, what the scheduler last did for it, and what it started; `schedule` and `state` are None
  where its file is unreadable, and `problem` says why."""
  name: str
  schedule: Optional[schedules_lib.Schedule]
  problem: str
  status: str  # ACTIVE, PAUSED, WAITING, ENDED or UNREADABLE
  state: Optional[schedules_lib.ScheduleState]
  next_slot: Optional[float]
  runs: List[run_process.RunProcess]  # the newest runs it started, newest first, at most SCHEDULE_ROWS
  run_count: int
  triggers: List[schedules_lib.TriggerRecord]  # its newest history, newest first, at most SCHEDULE_ROWS
  trigger_count: int


@dataclasses.dataclass(frozen=True)
class SchedulesPage(Page):
  section: ClassVar[str] = 'schedules'
  output_dir: str
  folder: str  # where the schedules are kept
  schedules: List[ScheduleView]
  scheduler: Optional[str]  # the scheduler process that fires them; None when none runs


def run_url(run_id: str, *rest: str) -> str:
  return '/'.join(['/runs', urllib.parse.quote(run_id, safe='')] + [urllib.parse.quote(part) for part in rest])


def runs_url(run_filter: runs_lib.RunFilter, page: int = 1) -> str:
  """A page of the runs list with this filter: the query the list's form sends, so a link keeps working."""
  query = {name: value for name, value in run_filter.as_text().items() if value}
  return '/runs?' + urllib.parse.urlencode({**query, 'page': page})


def _environment(log_dir: str) -> jinja2.Environment:
  environment = jinja2.Environment(loader=jinja2.PackageLoader('pipeline.inspect', 'templates'),
                                   autoescape=True, undefined=jinja2.StrictUndefined)
  environment.filters['time'] = runs_lib.format_time
  environment.filters['unix_time'] = schedules_lib.describe_time
  environment.globals['run_url'] = run_url
  environment.globals['runs_url'] = runs_url
  # What started a run, from its process record: every page that names a run may say it, without each page
  # carrying it.
  environment.globals['started_by'] = functools.partial(run_process.started_by, log_dir)
  return environment


class Inspector:
  """Builds each page from the store; one store connection per request."""

  def __init__(self, sources: Sources):
    self.sources = sources

  def _store(self):
    return runs_lib.open_store(self.sources.metadata_path, read_only=True)

  def _process_state(self, run_id: str) -> Optional[str]:
    return run_process.process_state(self.sources.log_dir, run_id)

  def runs(self, run_filter: runs_lib.RunFilter, page: int) -> RunsPage:
    views, total = runs_lib.list_runs(self._store(), run_filter, offset=(page - 1) * RUNS_PER_PAGE,
                                      limit=RUNS_PER_PAGE, process_state=self._process_state)
    return RunsPage(runs=views, total=total, run_filter=run_filter, states=runs_lib.RUN_STATES,
                    pipelines=runs_lib.PIPELINES, page=page, pages=max(1, math.ceil(total / RUNS_PER_PAGE)))

  def _run(self, run_id: str) -> Tuple[runs_lib.RunView, List[runs_lib.NodeView]]:
    try:
      return runs_lib.run_details(self._store(), run_id, self._process_state)
    except ValueError as error:
      raise NotFound(str(error)) from error

  def run(self, run_id: str) -> RunPage:
    view, nodes = self._run(run_id)
    log_path = run_logs.find_log(self.sources.log_dir, run_id)
    upstream = _dag(nodes, log_path)
    by_id = {node.node_id: node for node in nodes}
    steps = [(node_id, by_id.get(node_id)) for node_id in upstream]
    status = live.current_status(view, steps, self.sources.log_dir)
    svg, unavailable = '', None
    try:
      svg = charts.dag_svg(dag_layout.layout(upstream), {node.node_id: node.state for node in nodes},
                           status.durations(), {node_id: run_url(run_id, 'nodes', node_id) for node_id in by_id})
    except dag_layout.LayoutUnavailable as error:  # the table below still lists every step
      unavailable = str(error)
    return RunPage(run=dataclasses.replace(view, state=status.state), dag_svg=svg, dag_unavailable=unavailable,
                   steps=steps, log_path=log_path,
                   errors=[(node_id, _last_line(error)) for node_id, error in _errors(nodes, log_path).items()],
                   lineage=self._lineage(run_id), status=status, poll_interval_ms=POLL_INTERVAL_MS)

  def status(self, run_id: str) -> live.RunStatus:
    """What the run page's script polls while the run goes on: the page's state without its drawing."""
    view, nodes = self._run(run_id)
    log_path = run_logs.find_log(self.sources.log_dir, run_id)
    by_id = {node.node_id: node for node in nodes}
    return live.current_status(view, [(node_id, by_id.get(node_id)) for node_id in _dag(nodes, log_path)],
                               self.sources.log_dir)

  def node(self, run_id: str, node_id: str) -> NodePage:
    view, nodes = self._run(run_id)
    node = next((node for node in nodes if node.node_id == node_id), None)
    if node is None:
      raise NotFound(f'component {node_id!r} did not run in run {run_id}')
    log_path = run_logs.find_log(self.sources.log_dir, run_id)
    return NodePage(run=view, node=node, boilerplate=runs_lib.BOILERPLATE_PROPERTIES,
                    error=_errors([node], log_path).get(node_id),
                    execution_properties={name: value for name, value in node.execution_properties.items()
                                          if name != names.EXECUTION_RESULT_PROPERTY},
                    log_lines=run_logs.node_log(log_path, node_id) if log_path else None,
                    max_log_lines=run_logs.MAX_NODE_LOG_LINES)

  def data(self, run_id: str) -> DataPage:
    view, nodes = self._run(run_id)
    outputs = runs_lib.outputs_by_key(nodes)
    examples, statistics, anomalies = (outputs.get(key) for key in (names.EXAMPLES, names.STATISTICS,
                                                                    names.ANOMALIES))
    errors = _errors(nodes, run_logs.find_log(self.sources.log_dir, run_id))
    failure = next(iter(errors.items()), None)
    refused = next((node.refused_rejects_uri for node in nodes if node.refused_rejects_uri), None)
    rejects_path = view.outcome.rejects_uri or refused
    rejects = artifact_contents.rejects(rejects_path)
    splits = []
    per_split = artifact_contents.feature_summaries(statistics.uri) if statistics else {}
    for split, summaries in sorted(per_split.items(), key=lambda item: artifact_contents.split_order(item[0])):
      by_name = {summary.name: summary for summary in summaries}
      charts_by_title = []
      for name, title in artifact_contents.DISTRIBUTIONS:
        if name in by_name:
          charts_by_title.append((title, charts.bar_chart(by_name[name].top_values, f'{title}, {split}')))
      splits.append(SplitStatistics(
          name=split, examples=max([summary.present + summary.missing for summary in summaries] + [0]),
          features=[(summary, artifact_contents.shown_values(summary)) for summary in summaries],
          charts=charts_by_title))
    return DataPage(run=view, examples=examples, rejects_header=rejects[0], rejects=rejects[1], splits=splits,
                    failure=(failure[0], _last_line(failure[1])) if failure else None, rejects_path=rejects_path,
                    anomalies=artifact_contents.anomalies(anomalies.uri) if anomalies else None,
                    lineage=self._lineage(run_id))

  def training(self, run_id: str) -> TrainingPage:
    view, nodes = self._run(run_id)
    outputs = runs_lib.outputs_by_key(nodes)
    model_run, hyperparameters, results = (outputs.get(key) for key in
                                           (names.MODEL_RUN, names.BEST_HYPERPARAMETERS, names.TUNER_RESULTS))
    curves = artifact_contents.training_curves(model_run.uri) if model_run else {}
    trials = artifact_contents.tuner_trials(results.uri) if results else []
    return TrainingPage(run=view, model_run=model_run,
                        curves=[charts.line_chart(series, metric) for metric, series in curves.items()],
                        best_hyperparameters=artifact_contents.best_hyperparameters(hyperparameters.uri)
                        if hyperparameters else None,
                        trial_columns=sorted({key for trial in trials for key in trial} - {'trial_id', 'score'}),
                        trials=trials)

  def evaluation(self, run_id: str) -> EvaluationPage:
    view, nodes = self._run(run_id)
    outputs = runs_lib.outputs_by_key(nodes)
    outcome = view.outcome
    details_path = outcome.report_details
    report = artifact_contents.read_bytes(details_path).decode('utf-8') if details_path else None
    return EvaluationPage(run=view, outcome=outcome, evaluated=names.EVALUATION in outputs,
                          has_blessing=names.BLESSING in outputs, has_push=names.PUSHED_MODEL in outputs,
                          report=report, report_path=outcome.report_html)

  def compare(self, requested: List[str]) -> ComparePage:
    """Runs side by side (`runs` as the Runs page's form sends them, or comma-separated)."""
    try:
      comparison = compare_lib.compare(self._store(), requested, self._process_state)
    except compare_lib.SelectionError as error:
      raise BadRequest(str(error)) from error
    except compare_lib.UnknownRunError as error:
      raise NotFound(str(error)) from error
    return ComparePage(comparison=comparison, curves=[charts.runs_line_chart(by_run, metric)
                                                      for metric, by_run in comparison.curves.items()])

  def models(self) -> ModelsPage:
    store = self._store()
    producers = runs_lib.pushed_versions(store)
    model_dir = self.sources.serving_model_dir
    rows = []
    for version in reversed(artifact_contents.serving_versions(model_dir)):
      directory = f'{model_dir.rstrip("/")}/{version}'
      run_id = producers.get(paths.canonical(directory))
      accuracy = runs_lib.run_view(store, run_id, self._process_state).outcome.accuracy if run_id else None
      has_card = os.path.exists(os.path.join(directory, names.MODEL_CARD_HTML_FILE))
      rows.append(PushedVersion(version=version, directory=directory, run_id=run_id, accuracy=accuracy,
                                has_card=has_card))
    return ModelsPage(model_dir=model_dir, versions=rows)

  def model_card(self, version: str) -> ModelCardPage:
    """The card the Pusher wrote into a pushed version, shown inside the UI's frame."""
    path = os.path.join(self.sources.serving_model_dir, version, names.MODEL_CARD_HTML_FILE)
    if version not in map(str, artifact_contents.serving_versions(self.sources.serving_model_dir)):
      raise NotFound(f'no pushed version {version} under {self.sources.serving_model_dir}')
    if not os.path.exists(path):
      raise NotFound(f'version {version} has no model card (pushed before the Pusher wrote them)')
    card = artifact_contents.read_bytes(path).decode('utf-8')
    return ModelCardPage(version=version, path=path, card=report_format.page_body(card))

  def _lineage(self, run_id: str) -> lineage_lib.Lineage:
    return lineage_lib.run_lineage(self._store(), run_id, self.sources.serving_model_dir)

  def version_lineage(self, version: str) -> LineagePage:
    """A pushed version's lineage: the run that pushed it, what made its model, and what came of it."""
    try:
      found = lineage_lib.version_lineage(self._store(), self.sources.serving_model_dir, version)
    except lineage_lib.UnknownVersion as error:
      raise NotFound(str(error)) from error
    return LineagePage(version=version, lineage=found)

  def production(self) -> ProductionPage:
    """`visionflow evaluate`'s measurements of the model in production over time, slice by slice."""
    measurements = runs_lib.production_measurements(self._store())
    slices = sorted({name for measurement in measurements for name in measurement.slices},
                    key=lambda name: (name != 'overall', name))
    return ProductionPage(measurements=measurements, slices=slices,
                          rules=measurements[0].rules if measurements else None)

  def schedules(self) -> SchedulesPage:
    """The output folder's local schedules as `visionflow schedule list --local` reads them, with the runs each
    started and its triggers' history; read only, so that pausing or deleting one stays the CLI's."""
    store = schedules_lib.ScheduleStore(os.path.abspath(self.sources.output_dir))
    now = time.time()
    processes = run_process.all_recorded(self.sources.log_dir)[::-1]
    history = store.history()[::-1]
    views = []
    for name, schedule, problem in store.all():
      runs = [process for process in processes if _started_by_schedule(process, name)]
      triggers = [record for record in history if record.schedule == name]
      state = store.state(schedule) if schedule else None
      views.append(ScheduleView(
          name=name, schedule=schedule, problem=problem, status=schedule.status(now) if schedule else 'UNREADABLE',
          state=state, next_slot=schedule.next_slot(state.last_slot, now) if schedule else None,
          runs=runs[:SCHEDULE_ROWS], run_count=len(runs), triggers=triggers[:SCHEDULE_ROWS],
          trigger_count=len(triggers)))
    return SchedulesPage(output_dir=store.output_dir, folder=store.folder, schedules=views,
                         scheduler=scheduler_lib.scheduler_holding(store))


def _started_by_schedule(process: run_process.RunProcess, name: str) -> bool:
  """Whether the schedule `name` started the run: its trigger is 'schedule NAME at ...' or 'schedule NAME: ...'."""
  return process.trigger.startswith((f'schedule {name} ', f'schedule {name}:'))


def _dag(nodes: List[runs_lib.NodeView], log_path: Optional[str]) -> Dict[str, List[str]]:
  """{component: upstream components} in the pipeline's order, as the run's log has it; a run without its log
  still shows what ran, with the edges the metadata records."""
  upstream = run_logs.logged_dag(log_path) if log_path else {}
  for node in nodes:
    upstream.setdefault(node.node_id, node.upstream)
  return upstream


def _errors(nodes: List[runs_lib.NodeView], log_path: Optional[str]) -> Dict[str, str]:
  """{component: why it failed} for the failed components: the traceback in the run's log, else the message
  the metadata records (all a run without its log has)."""
  logged = run_logs.failure(log_path) if log_path else None
  return {node.node_id: logged or node.error or 'no error recorded'
          for node in nodes if node.state == 'FAILED'}


def _last_line(error: str) -> str:
  """For a traceback, the exception and its message."""
  lines = [line for line in error.splitlines() if line.strip()]
  return lines[-1] if lines else error


def _run_filter(query: Dict[str, List[str]]) -> runs_lib.RunFilter:
  """The filter the query asks for; BadRequest names a value it cannot read."""
  try:
    return runs_lib.RunFilter.parse(**{field.name: query.get(field.name, [''])[0]
                                       for field in dataclasses.fields(runs_lib.RunFilter)})
  except ValueError as error:
    raise BadRequest(str(error)) from None


def _page_number(query: Dict[str, List[str]]) -> int:
  try:
    return max(1, int(query.get('page', ['1'])[0]))
  except ValueError:
    return 1


Route = Tuple[re.Pattern, str, Callable[..., Page]]
JsonRoute = Tuple[re.Pattern, Callable[..., Dict[str, Any]]]


def _routes(inspector: Inspector) -> List[Route]:
  run = r'/runs/(?P<run_id>[^/]+)'
  return [
      (re.compile(r'/|/runs'), 'runs.html', lambda query: inspector.runs(_run_filter(query), _page_number(query))),
      (re.compile(run), 'run.html', lambda query, run_id: inspector.run(run_id)),
      (re.compile(run + r'/nodes/(?P<node_id>[^/]+)'), 'node.html',
       lambda query, run_id, node_id: inspector.node(run_id, node_id)),
      (re.compile(run + r'/data'), 'data.html', lambda query, run_id: inspector.data(run_id)),
      (re.compile(run + r'/training'), 'training.html', lambda query, run_id: inspector.training(run_id)),
      (re.compile(run + r'/evaluation'), 'evaluation.html', lambda query, run_id: inspector.evaluation(run_id)),
      (re.compile(r'/compare'), 'compare.html', lambda query: inspector.compare(query.get('runs', []))),
      (re.compile(r'/models'), 'models.html', lambda query: inspector.models()),
      (re.compile(r'/models/(?P<version>\d+)/card'), 'model_card.html',
       lambda query, version: inspector.model_card(version)),
      (re.compile(r'/models/(?P<version>\d+)/lineage'), 'lineage.html',
       lambda query, version: inspector.version_lineage(version)),
      (re.compile(r'/production'), 'production.html', lambda query: inspector.production()),
      (re.compile(r'/schedules'), 'schedules.html', lambda query: inspector.schedules()),
  ]


def _json_routes(inspector: Inspector) -> List[JsonRoute]:
  return [(re.compile(r'/runs/(?P<run_id>[^/]+)/status\.json'), lambda run_id: inspector.status(run_id).as_json())]


_LOOPBACK_NAMES = frozenset({'localhost', '127.0.0.1', '::1'})
_WILDCARD_ADDRESSES = frozenset({'', '0.0.0.0', '::'})


def _host_name(header: str) -> str:
  """A Host header's name, without its port or an IPv6 address's brackets, lower case."""
  header = header.strip().lower()
  if header.startswith('['):
    return header[1:].split(']', 1)[0]
  return header.rsplit(':', 1)[0] if header.count(':') == 1 else header


def allowed_host_names(listen_host: str) -> frozenset:
  """The Host header names the server answers: loopback names and the address it listens on (with a
  wildcard address, this machine's names too). Any other name is a page elsewhere reaching this server
  through DNS rebinding, refused with 421."""
  host_names = set(_LOOPBACK_NAMES)
  if listen_host.lower() in _WILDCARD_ADDRESSES:
    host_names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
  else:
    host_names.add(_host_name(listen_host))
  return frozenset(host_names)


def make_server(sources: Sources, host: str = '127.0.0.1', port: int = 8080) -> http.server.ThreadingHTTPServer:
  """A server for the pages; port 0 picks a free port (server.server_address has it)."""
  inspector = Inspector(sources)
  environment = _environment(sources.log_dir)
  routes = _routes(inspector)
  json_routes = _json_routes(inspector)

  allowed_hosts = allowed_host_names(host)

  class Handler(http.server.BaseHTTPRequestHandler):

    def do_GET(self):  # the name http.server calls
      requested = self.headers.get('Host')
      if requested is not None and _host_name(requested) not in allowed_hosts:
        self._send_error(421, f'this server answers only for {", ".join(sorted(allowed_hosts))}')
        return
      url = urllib.parse.urlsplit(self.path)
      query = urllib.parse.parse_qs(url.query)
      for pattern, build_json in json_routes:
        match = pattern.fullmatch(url.path)
        if match:
          self._send_json(build_json, {name: urllib.parse.unquote(value) for name, value in match.groupdict().items()})
          return
      for pattern, template, build in routes:
        match = pattern.fullmatch(url.path)
        if match:
          arguments = {name: urllib.parse.unquote(value) for name, value in match.groupdict().items()}
          try:
            self._send(200, environment.get_template(template).render(**build(query, **arguments).template_variables()))
          except BadRequest as error:
            self._send_error(400, str(error))
          except NotFound as error:
            self._send_error(404, str(error))
          except (runs_lib.DamagedStoreError, FileNotFoundError) as error:
            self._send_error(503, str(error))
          except Exception:  # a broken artifact must not take the server down: show what failed
            self._send_error(500, traceback.format_exc())
          return
      self._send_error(404, f'no page {url.path}')

    def _send_json(self, build: Callable[..., Dict[str, Any]], arguments: Dict[str, str]) -> None:
      """The answer as JSON, never cached; an error as {'error': why} with the status a page would have."""
      try:
        status, answer = 200, build(**arguments)
      except NotFound as error:
        status, answer = 404, {'error': str(error)}
      except (runs_lib.DamagedStoreError, FileNotFoundError) as error:
        status, answer = 503, {'error': str(error)}
      except Exception:  # as for a page: say what failed, and keep serving
        status, answer = 500, {'error': traceback.format_exc()}
      self._send(status, json.dumps(answer, allow_nan=False), 'application/json')

    def _send_error(self, status: int, message: str) -> None:
      self._send(status, environment.get_template('error.html').render(message=message, section=''))

    def _send(self, status: int, body: str, content_type: str = 'text/html') -> None:
      data = body.encode('utf-8')
      self.send_response(status)
      self.send_header('Content-Type', f'{content_type}; charset=utf-8')
      self.send_header('Cache-Control', 'no-store')  # a running run's page and status change from one call to the next
      self.send_header('Content-Length', str(len(data)))
      self.end_headers()
      self.wfile.write(data)

    def log_message(self, format, *args):  # http.server's signature
      pass

  return http.server.ThreadingHTTPServer((host, port), Handler)
