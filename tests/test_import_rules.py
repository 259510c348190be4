"""The floor plan's rules, read from every import statement (function-level imports included):
- components/ never imports pipeline/: the steps run in containers that need no runner or CLI;
- a step folder never imports another step folder, and the shared modules beside them import none: steps share
  formats through the shared modules;
- the inspection (pipeline/inspect/) imports no runner, TensorFlow, TFX or Beam: it is read-only and starts fast.
"""
import ast
import os
from typing import Iterator, List, Tuple

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Folders of components/ that hold modules shared by the steps, not a step.
SHARED_FOLDERS = ('reports',)
HEAVY_PACKAGES = ('tensorflow', 'tfx', 'apache_beam', 'tensorflow_model_analysis', 'tensorflow_transform',
                  'tensorflow_data_validation', 'keras', 'tf_keras', 'keras_tuner')


def _imports(folder: str) -> Iterator[Tuple[str, int, str]]:
  """(file relative to the project, line, imported module) for every import under folder."""
  for root, _, files in os.walk(os.path.join(PROJECT, folder)):
    for name in sorted(files):
      if not name.endswith('.py'):
        continue
      path = os.path.join(root, name)
      with open(path, encoding='utf-8') as handle:
        tree = ast.parse(handle.read(), path)
      for node in ast.walk(tree):
        if isinstance(node, ast.Import):
          modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
          modules = [f'{node.module}.{alias.name}' for alias in node.names]
        else:
          continue
        for module in modules:
          yield os.path.relpath(path, PROJECT), node.lineno, module


def _step_folders() -> List[str]:
  root = os.path.join(PROJECT, 'components')
  return sorted(name for name in os.listdir(root) if os.path.isfile(os.path.join(root, name, '__init__.py'))
                and name not in SHARED_FOLDERS)


def _step_of(module: str) -> str:
  """The step folder a dotted module name is in, or ''."""
  parts = module.split('.')
  return parts[1] if len(parts) > 1 and parts[0] == 'components' and parts[1] in _step_folders() else ''


def _violations(folder: str, forbidden) -> List[str]:
  return [f'{path}:{line} imports {module}' for path, line, module in _imports(folder) if forbidden(path, module)]


def test_components_never_import_pipeline():
  assert _violations('components', lambda path, module: module.split('.')[0] == 'pipeline') == []


def test_no_step_folder_imports_another_and_no_shared_module_imports_a_step():
  def crosses(path: str, module: str) -> bool:
    parts = path.split(os.sep)
    importer = parts[1] if len(parts) > 2 and parts[1] in _step_folders() else ''
    imported = _step_of(module)
    return bool(imported) and imported != importer
  assert _violations('components', crosses) == []


def test_the_inspection_imports_no_runner_and_no_heavy_package():
  def forbidden(path: str, module: str) -> bool:
    return module.startswith('pipeline.runners') or module.split('.')[0] in HEAVY_PACKAGES
  assert _violations(os.path.join('pipeline', 'inspect'), forbidden) == []


def test_the_rules_see_a_violation():
  """The reader of imports finds them where they are: one step's import of another's module is seen."""
  assert any(module == 'components.trainer' or module.startswith('components.trainer.')
             for path, _, module in _imports('components') if path.startswith(os.path.join('components', 'trainer')))
  assert _step_of('components.pusher.component') == 'pusher' and _step_of('components.names') == ''
