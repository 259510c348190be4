"""`visionflow evaluate` refuses in one line (exit 2), before the run creates anything, when there is nothing to
evaluate or nothing to evaluate it on; `visionflow run --verbose` reaches the runner."""
import pytest

from pipeline import cli


def test_evaluate_with_no_model_in_production_says_so_before_reading_any_image(tmp_path, capsys):
  (tmp_path / 'labels.txt').write_text('zero\none\n')
  (tmp_path / 'new.csv').write_text('zero/a.jpg,zero\n')
  assert cli.main(['evaluate', '--output-dir', str(tmp_path / 'out'), '--data-csv', str(tmp_path / 'new.csv'),
                   '--labels-file', str(tmp_path / 'labels.txt')]) == 2
  assert capsys.readouterr().err.strip().splitlines() == [
      f'visionflow evaluate: error: no model in production under {tmp_path}/out/serving/image_classifier to '
      'evaluate: push one with `visionflow run` first']
  assert not (tmp_path / 'out').exists()  # refused before the run created anything


def test_evaluate_names_a_missing_image_folder_by_its_flag(tmp_path, capsys):
  assert cli.main(['evaluate', '--output-dir', str(tmp_path / 'out'), '--image-folder', str(tmp_path / 'new')]) == 2
  assert capsys.readouterr().err.strip().splitlines() == [
      f'visionflow evaluate: error: --image-folder {tmp_path}/new is not a folder']
  assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('flags, verbose', [([], False), (['--verbose'], True)])
def test_run_hands_verbose_to_the_local_runner(tmp_path, monkeypatch, capsys, flags, verbose):
  from pipeline.runners import local
  asked = []

  def refuse(config, verbose):
    asked.append(verbose)
    raise ValueError('stopped before running')

  monkeypatch.setattr(local, 'run', refuse)
  assert cli.main(['run', '--output-dir', str(tmp_path / 'out'), *flags]) == 2
  assert asked == [verbose]
  assert capsys.readouterr().err == 'visionflow run: error: stopped before running\n'
