"""The commands that use the pushed model refuse a bad flag before they look for the model."""
import pytest

from pipeline import cli


@pytest.mark.parametrize('flag, value', [('--batch-size', '0'), ('--top-k', '-1'), ('--batch-size', 'many')])
def test_batch_predict_refuses_a_batch_or_top_k_below_1_before_looking_for_a_model(flag, value, tmp_path, capsys):
  with pytest.raises(SystemExit) as exited:
    cli.main(['batch-predict', '--output-dir', str(tmp_path), '--input', 'a.csv', '--output', 'out', flag, value])
  assert exited.value.code == 2
  reason = f'expected a whole number, got {value!r}' if value == 'many' else f'must be 1 or more, got {value}'
  assert capsys.readouterr().err.splitlines()[-1] == f'visionflow batch-predict: error: argument {flag}: {reason}'
