"""Every foreseeable failure of a `visionflow` command is one line on stderr and exit code 2, never a traceback:
exit 1 is kept for "not blessed" (run) and "an alert fired" (evaluate)."""
import pytest

from pipeline import cli


def _one_error_line(capsys) -> str:
  lines = capsys.readouterr().err.strip().splitlines()
  assert len(lines) == 1, lines
  return lines[0]


def test_evaluate_with_no_model_in_production_says_so_before_reading_any_image(tmp_path, capsys):
  (tmp_path / 'labels.txt').write_text('zero\none\n')
  (tmp_path / 'new.csv').write_text('zero/a.jpg,zero\n')
  assert cli.main(['evaluate', '--output-dir', str(tmp_path / 'out'), '--data-csv', str(tmp_path / 'new.csv'),
                   '--labels-file', str(tmp_path / 'labels.txt')]) == 2
  assert _one_error_line(capsys) == (
      f'visionflow evaluate: error: no model in production under {tmp_path}/out/serving/image_classifier to '
      'evaluate: push one with `visionflow run` first')
  assert not (tmp_path / 'out').exists()  # refused before the run created anything


def test_a_file_system_tensorflow_cannot_reach_is_one_line(capsys):
  assert cli.main(['predict', '--serving-dir', 'nosuch://bucket/serving', 'x.jpg']) == 2
  assert _one_error_line(capsys) == (
      "visionflow predict: error: File system scheme 'nosuch' not implemented (file: "
      "'nosuch://bucket/serving/image_classifier/*/saved_model.pb')")


@pytest.mark.parametrize('action', ['pause', 'resume', 'delete'])
def test_a_schedule_action_without_its_id_is_refused_before_kubeflow_is_reached(action, capsys):
  assert cli.main(['schedule', action, '--host', 'http://127.0.0.1:9']) == 2
  assert _one_error_line(capsys) == (
      f'visionflow schedule: error: schedule {action} needs the recurring run id (see `visionflow schedule list`)')


def test_evaluate_names_a_missing_image_folder_by_its_flag(tmp_path, capsys):
  assert cli.main(['evaluate', '--output-dir', str(tmp_path / 'out'), '--image-folder', str(tmp_path / 'new')]) == 2
  assert _one_error_line(capsys) == f'visionflow evaluate: error: --image-folder {tmp_path}/new is not a folder'
  assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('flag, value', [('--batch-size', '0'), ('--top-k', '-1'), ('--batch-size', 'many')])
def test_batch_predict_refuses_a_batch_or_top_k_below_1_before_looking_for_a_model(flag, value, tmp_path, capsys):
  with pytest.raises(SystemExit) as exited:
    cli.main(['batch-predict', '--output-dir', str(tmp_path), '--input', 'a.csv', '--output', 'out', flag, value])
  assert exited.value.code == 2
  reason = f'expected a whole number, got {value!r}' if value == 'many' else f'must be 1 or more, got {value}'
  assert capsys.readouterr().err.splitlines()[-1] == f'visionflow batch-predict: error: argument {flag}: {reason}'


def test_hyperparameters_in_exponent_notation_are_numbers():
  args = cli.build_parser().parse_args(['run', '--hyperparameters', 'learning_rate=1e-3,dropout=.5,backbone=small_cnn'])
  assert args.hyperparameters == {'learning_rate': 0.001, 'dropout': 0.5, 'backbone': 'small_cnn'}
