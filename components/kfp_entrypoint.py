"""The container entrypoint of every step on Kubeflow: TFX's own, taught the report artifact types.

The compiled spec runs `python -m components.kfp_entrypoint` with TFX's arguments (see
pipeline/kubeflow_runner.py).
"""
from absl import app
from tfx.orchestration.kubeflow.v2 import compiler_utils
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor

from components import report_artifacts

compiler_utils.TITLE_TO_CLASS_PATH.update(report_artifacts.CLASS_PATHS)

if __name__ == '__main__':
  app.run(kubeflow_v2_run_executor.main, flags_parser=kubeflow_v2_run_executor._parse_flags)
