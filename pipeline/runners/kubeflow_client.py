"""Submitting the compiled pipeline to Kubeflow Pipelines v2, and scheduling retraining, through kfp.Client.

Each submit uploads the spec as a new version of the pipeline named after the config's pipeline_name (the
first one creates the pipeline), so the KFP UI lists every compiled spec that ran; runs and recurring runs
reference that version, with the pipeline root and parameter values set per run.
"""
import dataclasses
import datetime
import os
import time
import urllib.error
import urllib.request
from typing import Callable, Dict, List, Optional

import kfp
import kfp_server_api
import urllib3

# Run states that end a run (kfp_server_api.V2beta1RuntimeState).
FINAL_STATES = {'SUCCEEDED', 'FAILED', 'SKIPPED', 'CANCELED'}
TOKEN_ENV = 'KF_PIPELINES_TOKEN'


class KubeflowError(RuntimeError):
  """The Kubeflow Pipelines API could not be reached, or refused the request; the message says which."""


@dataclasses.dataclass(frozen=True)
class Connection:
  host: str
  namespace: Optional[str] = None
  token: Optional[str] = None
  token_file: Optional[str] = None
  in_cluster: bool = False


def connect(connection: Connection) -> kfp.Client:
  """A kfp.Client authenticated as asked: a bearer token (flag, file, or $KF_PIPELINES_TOKEN), or in a
  cluster the pipeline service account's projected token; otherwise none (port-forwarded or open API).

  The API's health endpoint is asked first, once: kfp.Client retries it five times, 5 s apart, and then
  reports a timeout whatever the cause; this says at once whether the host is unreachable or refuses.
  """
  token = connection.token or os.environ.get(TOKEN_ENV)
  if connection.token_file:
    token = _read_token(connection.token_file)
  credentials = None
  if connection.in_cluster:
    token_path = os.getenv(kfp.client.KF_PIPELINES_SA_TOKEN_ENV) or kfp.client.KF_PIPELINES_SA_TOKEN_PATH
    credentials = kfp.client.ServiceAccountTokenVolumeCredentials(token_path)
    token = _read_token(token_path)
  _check_health(connection.host, token)
  return _call(connection.host, kfp.Client, connection.host, namespace=connection.namespace or 'kubeflow',
               existing_token=None if connection.in_cluster else token, credentials=credentials)


def _read_token(path: str) -> str:
  with open(path) as handle:
    return handle.read().strip()


def _refused(host: str, status: int, reason: str, body: str) -> KubeflowError:
  detail = body.strip()[:500]
  return KubeflowError(f'Kubeflow Pipelines at {host} refused the request: HTTP {status} {reason}'
                       f'{": " + detail if detail else ""}')


def _unreachable(host: str, cause) -> KubeflowError:
  return KubeflowError(f'cannot reach Kubeflow Pipelines at {host}: {cause}')


def _check_health(host: str, token: Optional[str]) -> None:
  headers = {'Authorization': f'Bearer {token}'} if token else {}
  request = urllib.request.Request(f'{host.rstrip("/")}/apis/v2beta1/healthz', headers=headers)
  try:
    with urllib.request.urlopen(request, timeout=30):
      pass
  except urllib.error.HTTPError as error:
    raise _refused(host, error.code, error.reason, error.read().decode(errors='replace')) from None
  except (urllib.error.URLError, OSError) as error:
    raise _unreachable(host, getattr(error, 'reason', error)) from None


def _call(api_host: str, function: Callable, *args, **kwargs):
  """Calls the API, turning transport and HTTP failures into one clear KubeflowError."""
  try:
    return function(*args, **kwargs)
  except kfp_server_api.ApiException as error:
    raise _refused(api_host, error.status, error.reason, error.body or '') from None
  except (urllib3.exceptions.HTTPError, OSError) as error:
    raise _unreachable(api_host, error) from None


def upload_version(client: kfp.Client, host: str, package_path: str, pipeline_name: str) -> Dict[str, str]:
  """Uploads the spec as a new version of `pipeline_name`; returns {'pipeline_id', 'version_id'}."""
  pipeline_id = _call(host, client.get_pipeline_id, pipeline_name)
  version_name = f'{pipeline_name}-{time.strftime("%Y%m%d-%H%M%S")}'
  if pipeline_id is None:
    pipeline = _call(host, client.upload_pipeline, package_path, pipeline_name=pipeline_name)
    versions = _call(host, client.list_pipeline_versions, pipeline.pipeline_id, page_size=1,
                     sort_by='created_at desc')
    return {'pipeline_id': pipeline.pipeline_id, 'version_id': versions.pipeline_versions[0].pipeline_version_id}
  version = _call(host, client.upload_pipeline_version, package_path, pipeline_version_name=version_name,
                  pipeline_id=pipeline_id)
  return {'pipeline_id': pipeline_id, 'version_id': version.pipeline_version_id}


def experiment_id(client: kfp.Client, host: str, name: str, namespace: Optional[str]) -> str:
  return _call(host, client.create_experiment, name, namespace=namespace).experiment_id


def submit(client: kfp.Client, host: str, package_path: str, pipeline_name: str, experiment: str,
           run_name: str, parameters: Dict, pipeline_root: str, namespace: Optional[str] = None,
           service_account: Optional[str] = None) -> kfp_server_api.V2beta1Run:
  references = upload_version(client, host, package_path, pipeline_name)
  return _call(host, client.run_pipeline, experiment_id(client, host, experiment, namespace), run_name,
               params=parameters, pipeline_root=pipeline_root, service_account=service_account, **references)


def run_url(host: str, run_id: str) -> str:
  """The run's page in the Kubeflow Pipelines UI served at `host`."""
  return f'{host.rstrip("/")}/#/runs/details/{run_id}'


def follow(client: kfp.Client, host: str, run_id: str, poll_seconds: float, timeout_seconds: float,
           report: Callable[[str], None]) -> str:
  """Polls the run until it ends, reporting each new state; returns the final state."""
  deadline = time.monotonic() + timeout_seconds
  state = None
  while True:
    run = _call(host, client.get_run, run_id)
    if run.state != state:
      state = run.state
      report(state)
    if state in FINAL_STATES:
      return state
    if time.monotonic() > deadline:
      raise KubeflowError(f'run {run_id} still {state} after {timeout_seconds:.0f} s')
    time.sleep(poll_seconds)


def check_cron(cron: str) -> None:
  if len(cron.split()) != 6:
    raise ValueError(f'cron {cron!r} must have 6 fields (second minute hour day-of-month month day-of-week), '
                     'e.g. "0 0 3 * * *" for 03:00 every day')


@dataclasses.dataclass(frozen=True)
class RecurringTrigger:
  """When a recurring run fires: KFP's 6-field cron or an interval in whole seconds, from an optional start time
  to an optional end time (Unix times)."""
  cron: Optional[str] = None
  interval_s: Optional[int] = None
  start: Optional[float] = None
  end: Optional[float] = None

  def __post_init__(self):
    if (self.cron is None) == (self.interval_s is None):
      raise ValueError('schedule create needs --cron or --every, one of them')
    if self.cron is not None:
      check_cron(self.cron)

  def describe(self) -> str:
    when = self.cron if self.cron is not None else f'every {self.interval_s} s'
    window = ''.join(f', {word} {_rfc3339(moment)}' for word, moment in (('from', self.start), ('until', self.end))
                     if moment is not None)
    return when + window

  def arguments(self) -> Dict:
    """create_recurring_run's trigger arguments."""
    return {'cron_expression': self.cron, 'interval_second': self.interval_s,
            'start_time': None if self.start is None else _rfc3339(self.start),
            'end_time': None if self.end is None else _rfc3339(self.end)}


def _rfc3339(moment: float) -> str:
  return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def create_schedule(client: kfp.Client, host: str, package_path: str, pipeline_name: str, experiment: str,
                    name: str, trigger: RecurringTrigger, parameters: Dict, pipeline_root: str,
                    namespace: Optional[str] = None, catchup: bool = False, service_account: Optional[str] = None
                    ) -> kfp_server_api.V2beta1RecurringRun:
  """A recurring run, one run at a time, no backfill unless asked.

  Each run reads the newest data span: the compiled ExampleGen resolves {SPAN} in the data path per run.
  """
  references = upload_version(client, host, package_path, pipeline_name)
  return _call(host, client.create_recurring_run, experiment_id(client, host, experiment, namespace), name,
               max_concurrency=1, no_catchup=not catchup, params=parameters, pipeline_root=pipeline_root,
               service_account=service_account, **trigger.arguments(), **references)


def describe_trigger(recurring_run: kfp_server_api.V2beta1RecurringRun) -> str:
  """A recurring run's trigger as `schedule list` shows it: its cron, or `every N s`."""
  trigger = recurring_run.trigger
  if trigger and trigger.cron_schedule:
    return trigger.cron_schedule.cron
  if trigger and trigger.periodic_schedule:
    return f'every {trigger.periodic_schedule.interval_second} s'
  return ''


def list_schedules(client: kfp.Client, host: str, namespace: Optional[str] = None
                   ) -> List[kfp_server_api.V2beta1RecurringRun]:
  recurring_runs, token = [], ''
  while True:
    page = _call(host, client.list_recurring_runs, page_token=token, page_size=100, namespace=namespace)
    recurring_runs += page.recurring_runs or []
    token = page.next_page_token
    if not token:
      return recurring_runs


def set_schedule(client: kfp.Client, host: str, recurring_run_id: str, action: str) -> None:
  """action: 'pause', 'resume' or 'delete'."""
  method = {'pause': client.disable_recurring_run, 'resume': client.enable_recurring_run,
            'delete': client.delete_recurring_run}[action]
  _call(host, method, recurring_run_id)
