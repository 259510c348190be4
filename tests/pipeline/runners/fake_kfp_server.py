"""A loopback stand-in for the Kubeflow Pipelines v2beta1 REST API: a contract test, not a cluster.

It answers the endpoints visionflow's client uses, checks every JSON request body against the API models
that kfp-server-api generates from KFP's OpenAPI spec (unknown fields, wrong types and bad enum values are
answered with HTTP 400, as the real server's gateway does), and records each request for the tests.
"""
import dataclasses
import datetime
import email
import itertools
import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any, Dict, List, Optional

import kfp_server_api
import yaml

_PRIMITIVES = {'str': str, 'int': int, 'bool': bool, 'float': (int, float), 'object': object}


class ContractError(ValueError):
  pass


def check_against_model(value: Any, type_name: str, where: str = 'body') -> None:
  """Raises ContractError unless `value` (parsed JSON) fits kfp_server_api's type `type_name`."""
  if value is None:
    return
  if type_name.startswith('list['):
    if not isinstance(value, list):
      raise ContractError(f'{where}: expected a list')
    for index, item in enumerate(value):
      check_against_model(item, type_name[5:-1], f'{where}[{index}]')
    return
  if type_name.startswith('dict('):
    if not isinstance(value, dict):
      raise ContractError(f'{where}: expected an object')
    item_type = type_name[5:-1].split(', ', 1)[1]
    for key, item in value.items():
      check_against_model(item, item_type, f'{where}.{key}')
    return
  if type_name in ('datetime', 'date'):
    if not isinstance(value, str):
      raise ContractError(f'{where}: expected an RFC 3339 string')
    return
  if type_name in _PRIMITIVES:
    # int64 fields are typed str in the generated models; the gateway takes them as JSON numbers or strings.
    int64 = type_name in ('int', 'str') and isinstance(value, (int, str)) and str(value).lstrip('-').isdigit()
    if not isinstance(value, _PRIMITIVES[type_name]) and not int64:
      raise ContractError(f'{where}: expected {type_name}, got {value!r}')
    return
  model = getattr(kfp_server_api.models, type_name)
  allowed = getattr(model, 'allowable_values', None)
  if allowed is not None:
    # Proto JSON takes an enum's name or its number (kfp's filters send numbers).
    if value not in allowed and not (isinstance(value, int) and 0 <= value < len(allowed)):
      raise ContractError(f'{where}: {value!r} is not one of {allowed}')
    return
  if not isinstance(value, dict):
    raise ContractError(f'{where}: expected a {type_name} object')
  fields = {}
  for attribute, json_name in model.attribute_map.items():
    # The gateway reads proto field names and their lowerCamelCase JSON names alike (kfp's filters use the latter).
    camel = re.sub(r'_([a-z])', lambda match: match.group(1).upper(), json_name)
    fields[json_name] = fields[camel] = model.openapi_types[attribute]
  unknown = set(value) - set(fields)
  if unknown:
    raise ContractError(f'{where}: unknown {type_name} fields {sorted(unknown)}')
  for key, item in value.items():
    check_against_model(item, fields[key], f'{where}.{key}')


def _wire(type_name: str, **fields) -> dict:
  """A response object keyed by the JSON names the real API sends (kfp-server-api's attribute_map)."""
  attribute_map = getattr(kfp_server_api.models, type_name).attribute_map
  return {attribute_map[name]: value for name, value in fields.items()}


@dataclasses.dataclass
class Request:
  method: str
  path: str
  query: Dict[str, str]
  body: Any = None            # parsed JSON, or the uploaded file's text for uploads
  headers: Dict[str, str] = dataclasses.field(default_factory=dict)  # names in lower case


class FakeKubeflowPipelines:
  """State and routes; `run_states` is the sequence a run's state goes through on successive reads."""

  def __init__(self, run_states=('PENDING', 'RUNNING', 'SUCCEEDED'), refuse_with: Optional[int] = None):
    self.requests: List[Request] = []
    self.pipelines: Dict[str, dict] = {}
    self.versions: Dict[str, List[dict]] = {}
    self.experiments: Dict[str, dict] = {}
    self.runs: Dict[str, dict] = {}
    self.recurring_runs: Dict[str, dict] = {}
    self.run_states = run_states
    self.refuse_with = refuse_with
    self._reads: Dict[str, int] = {}
    self._ids = itertools.count(1)
    self._lock = threading.Lock()

  def _new_id(self, kind: str) -> str:
    return f'{kind}-{next(self._ids)}'

  @staticmethod
  def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')

  def handle(self, method: str, path: str, query: Dict[str, str], body: Any) -> Any:
    """Returns the JSON response; raises ContractError (400) or LookupError (404)."""
    routes = [
        ('GET', r'/apis/v2beta1/healthz', lambda: {'multi_user': False}),
        ('GET', r'/apis/v2beta1/pipelines', lambda: self._list_pipelines(query)),
        ('POST', r'/apis/v2beta1/pipelines/upload', lambda: self._upload(query, body)),
        ('POST', r'/apis/v2beta1/pipelines/upload_version', lambda: self._upload_version(query, body)),
        ('GET', r'/apis/v2beta1/pipelines/(?P<id>[^/]+)/versions', lambda id: self._list_versions(id)),
        ('GET', r'/apis/v2beta1/experiments', lambda: self._list_experiments(query)),
        ('POST', r'/apis/v2beta1/experiments', lambda: self._create_experiment(body)),
        ('POST', r'/apis/v2beta1/runs', lambda: self._create('V2beta1Run', self.runs, 'run', body)),
        ('GET', r'/apis/v2beta1/runs/(?P<id>[^/:]+)', lambda id: self._read_run(id)),
        ('POST', r'/apis/v2beta1/recurringruns',
         lambda: self._create('V2beta1RecurringRun', self.recurring_runs, 'recurring_run', body)),
        ('GET', r'/apis/v2beta1/recurringruns', lambda: self._list_recurring_runs(query)),
        ('POST', r'/apis/v2beta1/recurringruns/(?P<id>[^/:]+):(?P<action>enable|disable)',
         lambda id, action: self._set_mode(id, action)),
        ('DELETE', r'/apis/v2beta1/recurringruns/(?P<id>[^/:]+)', lambda id: self._delete_recurring_run(id)),
    ]
    for route_method, pattern, action in routes:
      match = re.fullmatch(pattern, path)
      if match and route_method == method:
        with self._lock:
          return action(**match.groupdict())
    raise LookupError(f'no route {method} {path}')

  def _display_name_filter(self, query: Dict[str, str]) -> Optional[str]:
    if 'filter' not in query:
      return None
    predicates = json.loads(query['filter'])['predicates']
    check_against_model(predicates, 'list[V2beta1Predicate]', 'filter.predicates')
    return next(predicate['stringValue'] for predicate in predicates if predicate['key'] == 'display_name')

  def _list_pipelines(self, query):
    name = self._display_name_filter(query)
    found = [pipeline for pipeline in self.pipelines.values() if name is None or pipeline['display_name'] == name]
    return _wire('V2beta1ListPipelinesResponse', pipelines=found, total_size=len(found))

  def _spec_from_upload(self, body) -> dict:
    documents = list(yaml.safe_load_all(body))
    spec = documents[0]
    if not isinstance(spec, dict) or 'pipelineInfo' not in spec or 'root' not in spec:
      raise ContractError('uploadfile is not a pipeline spec')
    if any('platforms' not in document for document in documents[1:]):
      raise ContractError('a document after the pipeline spec must be a platform spec')
    return spec

  def _add_version(self, pipeline_id: str, name: str, body) -> dict:
    version = {'pipeline_id': pipeline_id, 'pipeline_version_id': self._new_id('version'), 'display_name': name,
               'created_at': self._now(), 'pipeline_spec': self._spec_from_upload(body)}
    self.versions.setdefault(pipeline_id, []).insert(0, version)
    return version

  def _upload(self, query, body):
    name = query['name']
    if any(pipeline['display_name'] == name for pipeline in self.pipelines.values()):
      raise ContractError(f'pipeline {name} exists')
    pipeline = {'pipeline_id': self._new_id('pipeline'), 'display_name': name, 'created_at': self._now()}
    self.pipelines[pipeline['pipeline_id']] = pipeline
    self._add_version(pipeline['pipeline_id'], name, body)
    return pipeline

  def _upload_version(self, query, body):
    if query.get('pipelineid') not in self.pipelines:
      raise LookupError(f'no pipeline {query.get("pipelineid")}')
    return self._add_version(query['pipelineid'], query['name'], body)

  def _list_versions(self, pipeline_id):
    versions = self.versions.get(pipeline_id, [])
    return _wire('V2beta1ListPipelineVersionsResponse', pipeline_versions=versions, total_size=len(versions))

  def _list_experiments(self, query):
    name = self._display_name_filter(query)
    found = [experiment for experiment in self.experiments.values()
             if (name is None or experiment['display_name'] == name)
             and (experiment.get('namespace') or None) == (query.get('namespace') or None)]
    return _wire('V2beta1ListExperimentsResponse', experiments=found, total_size=len(found))

  def _create_experiment(self, body):
    check_against_model(body, 'V2beta1Experiment')
    experiment = dict(body, experiment_id=self._new_id('experiment'), created_at=self._now())
    self.experiments[experiment['experiment_id']] = experiment
    return experiment

  def _create(self, model: str, store: dict, kind: str, body):
    check_against_model(body, model)
    reference = body.get('pipeline_version_reference')
    if reference and reference['pipeline_version_id'] not in {
        version['pipeline_version_id'] for version in self.versions.get(reference['pipeline_id'], [])}:
      raise LookupError(f'no pipeline version {reference}')
    if body.get('experiment_id') not in self.experiments:
      raise LookupError(f'no experiment {body.get("experiment_id")}')
    created = dict(body, created_at=self._now(), **{f'{kind}_id': self._new_id(kind)})
    if kind == 'run':
      created['state'] = self.run_states[0]
    else:
      created['status'] = 'ENABLED' if body.get('mode') == 'ENABLE' else 'DISABLED'
    store[created[f'{kind}_id']] = created
    return created

  def _read_run(self, run_id):
    run = self.runs[run_id]
    reads = self._reads[run_id] = self._reads.get(run_id, 0) + 1
    run['state'] = self.run_states[min(reads - 1, len(self.run_states) - 1)]
    return run

  def _list_recurring_runs(self, query):
    found = list(self.recurring_runs.values())
    size = int(query.get('page_size', 10))
    start = int(query.get('page_token') or 0)
    next_token = str(start + size) if start + size < len(found) else None
    return _wire('V2beta1ListRecurringRunsResponse', recurring_runs=found[start:start + size],
                 total_size=len(found), next_page_token=next_token)

  def _set_mode(self, recurring_run_id, action):
    self.recurring_runs[recurring_run_id]['status'] = 'ENABLED' if action == 'enable' else 'DISABLED'
    return {}

  def _delete_recurring_run(self, recurring_run_id):
    del self.recurring_runs[recurring_run_id]
    return {}


def _handler(api: FakeKubeflowPipelines):
  class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
      pass

    def _serve(self):
      url = urllib.parse.urlsplit(self.path)
      query = dict(urllib.parse.parse_qsl(url.query))
      length = int(self.headers.get('Content-Length') or 0)
      raw = self.rfile.read(length) if length else b''
      content_type = self.headers.get('Content-Type', '')
      try:
        if content_type.startswith('multipart/form-data'):
          message = email.message_from_bytes(f'Content-Type: {content_type}\r\n\r\n'.encode() + raw)
          body = next(part.get_payload(decode=True).decode() for part in message.get_payload()
                      if part.get_param('name', header='content-disposition') == 'uploadfile')
        else:
          body = json.loads(raw) if raw else None
        headers = {name.lower(): value for name, value in self.headers.items()}
        api.requests.append(Request(self.command, url.path, query, body, headers))
        if api.refuse_with:
          self._reply(api.refuse_with, {'error': 'refused by the test', 'code': 7})
          return
        self._reply(200, api.handle(self.command, url.path, query, body))
      except ContractError as error:
        self._reply(400, {'error': str(error), 'code': 3})
      except LookupError as error:
        self._reply(404, {'error': str(error), 'code': 5})

    def _reply(self, status, payload):
      data = json.dumps(payload).encode()
      self.send_response(status)
      self.send_header('Content-Type', 'application/json')
      self.send_header('Content-Length', str(len(data)))
      self.end_headers()
      self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _serve

  return Handler


class Server:
  """`with Server() as server:` serves `server.api` on a free loopback port at `server.url`."""

  def __init__(self, api: Optional[FakeKubeflowPipelines] = None):
    self.api = api or FakeKubeflowPipelines()
    self._server = ThreadingHTTPServer(('127.0.0.1', 0), _handler(self.api))
    self.url = f'http://127.0.0.1:{self._server.server_address[1]}'

  def __enter__(self):
    threading.Thread(target=self._server.serve_forever, daemon=True).start()
    return self

  def __exit__(self, *exc):
    self._server.shutdown()
    self._server.server_close()
