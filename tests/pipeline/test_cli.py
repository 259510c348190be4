"""Every foreseeable failure of a `visionflow` command is one line on stderr and exit code 2, never a traceback:
exit 1 is kept for "not blessed" (run) and "an alert fired" (evaluate)."""
from pipeline import cli


def test_a_file_system_tensorflow_cannot_reach_is_one_line(capsys):
  assert cli.main(['predict', '--serving-dir', 'nosuch://bucket/serving', 'x.jpg']) == 2
  assert capsys.readouterr().err.strip().splitlines() == [
      "visionflow predict: error: File system scheme 'nosuch' not implemented (file: "
      "'nosuch://bucket/serving/image_classifier/*/saved_model.pb')"]
