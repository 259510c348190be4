"""The `visionflow` command: one parser over the command groups of pipeline/commands/, and each foreseen failure
as one line on stderr with exit code 2."""
import argparse
import os
import sys
import warnings
from typing import List, Optional

# TFX and TFMA need Keras 2 (tf_keras): this must be set before TensorFlow is first imported.
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
# Google client libraries warn at import about future Python support; nothing a user can act on.
warnings.filterwarnings('ignore', category=FutureWarning, module=r'google\.')

# After the environment above: the command modules import TensorFlow inside the commands that need it.
from pipeline.commands import inspection  # noqa: E402
from pipeline.commands import kubeflow  # noqa: E402
from pipeline.commands import model  # noqa: E402
from pipeline.commands import run  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog='visionflow', description='TFX image classification pipeline')
  commands = parser.add_subparsers(dest='command', required=True)
  for group in (run, kubeflow, inspection, model):
    group.add_parsers(commands)
  return parser


def _foreseen_errors() -> tuple:
  """The errors that are a user's mistake or the machine's state. Evaluated when an error reaches main(), so that
  TensorFlow's and TFX's are named only when a command loaded them (`runs` and `show` start without either).
  A step's refusal (components.compat.RecordedFailure) states its reason; TensorFlow's file errors (a gs:// path
  that is missing or unreadable, a scheme it does not know) are no OSErrors."""
  foreseen = (ValueError, OSError)
  compat = sys.modules.get('components.compat')
  if compat is not None:
    foreseen += (compat.RecordedFailure,)
  tensorflow_errors = sys.modules.get('tensorflow.python.framework.errors_impl')
  if tensorflow_errors is not None:
    foreseen += (tensorflow_errors.OpError,)
  return foreseen


def main(argv: Optional[List[str]] = None) -> int:
  args = build_parser().parse_args(argv)
  try:
    return args.handler(args)
  except _foreseen_errors() as error:  # one line, no traceback
    reason = '; '.join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__
    print(f'visionflow {args.command}: error: {reason}', file=sys.stderr)
    return 2


if __name__ == '__main__':
  sys.exit(main())
