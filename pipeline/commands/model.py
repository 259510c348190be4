"""`visionflow predict`, `explain` and `batch-predict`: the newest pushed model on images, one by one or on
Apache Beam."""
import argparse
import dataclasses
import json
import os
import shlex
import sys

from components import image_limits
from pipeline import config as config_lib
from pipeline.commands import config_flags

_ERRORS_SHOWN = 10  # batch-predict's failed rows printed; all of them are in its errors files


def _positive_int(text: str) -> int:
  try:
    value = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f'expected a whole number, got {text!r}') from None
  if value < 1:
    raise argparse.ArgumentTypeError(f'must be 1 or more, got {value}')
  return value


def _image_limits(config: config_lib.PipelineConfig) -> image_limits.ImageLimits:
  """The config's limits on an image file given to the model."""
  return image_limits.ImageLimits(max_pixels=config.max_image_pixels, max_bytes=config.max_image_bytes,
                                  max_aspect_ratio=config.max_aspect_ratio)


def _predict(args: argparse.Namespace) -> int:
  from pipeline import predict
  # Only the serving folder and the image limits matter here: the pipeline's settings are not checked, so
  # the start stays close to importing TensorFlow (benchmarks/cold_start_benchmark.py).
  config = config_flags.config_from_args(args, validate=False)
  model_dir = predict.newest_model_version(config.serving_model_dir)
  predictor = predict.Predictor(model_dir, _image_limits(config))
  results = list(predictor.predict_files(predict.expand_inputs(args.inputs), batch_size=args.batch_size))
  if args.json:
    print(json.dumps([dataclasses.asdict(result) for result in results], indent=2))
  else:
    for result in results:
      if result.error:
        print(f'{result.path}\tERROR\t{result.error}')
      else:
        print(f'{result.path}\t{result.class_name}\t{result.probability:.4f}')
  print(f'model: {model_dir}', file=sys.stderr)
  return 1 if any(result.error for result in results) else 0


def _explain(args: argparse.Namespace) -> int:
  """One line per image: its path, the predicted class and probability, and the overlay written (or why not)."""
  from pipeline import explain
  from pipeline import predict
  config = config_flags.config_from_args(args, validate=False)
  model_dir = predict.newest_model_version(config.serving_model_dir)
  failed = False
  for result in explain.explain_files(model_dir, predict.expand_inputs(args.inputs), args.output,
                                      _image_limits(config)):
    if result.error:
      failed = True
      print(f'{result.path}\tERROR\t{result.error}', flush=True)
    else:
      explained = result.explanation
      print(f'{result.path}\t{explained.predicted_label}\t{explained.probability:.4f}\t{explained.png_path}',
            flush=True)
  print(f'model: {model_dir}', file=sys.stderr)
  return 1 if failed else 0


def _batch_predict(args: argparse.Namespace) -> int:
  """The newest pushed model over many images on Apache Beam; exit 1 when some rows could not be scored."""
  import logging
  import apache_beam as beam
  from apache_beam.options.pipeline_options import PipelineOptions
  from components.batch_inference import scoring
  from components import pixel_model
  from pipeline import predict
  # Beam warns that python-snappy would checksum TFRecords faster; nothing a user of the command can act on.
  logging.getLogger('apache_beam.io.tfrecordio').setLevel(logging.ERROR)
  config = config_flags.config_from_args(args, validate=False)
  model_dir = predict.newest_model_version(config.serving_model_dir)
  pixel_model.training_record(model_dir)  # a model from elsewhere: one line, before Beam starts
  scoring.check_sources(args.input)
  scoring.check_output_dir(args.output)
  beam_args = (shlex.split(args.beam_pipeline_args) if args.beam_pipeline_args is not None
               else list(config.beam_pipeline_args))
  limits = dataclasses.replace(_image_limits(config), image_size=None)
  settings = scoring.ScoringSettings(model_dir, args.output, limits, top_k=args.top_k, batch_size=args.batch_size)
  with beam.Pipeline(options=PipelineOptions(beam_args)) as pipeline:
    scoring.score(pipeline, args.input, settings)
  summary = scoring.Summary.read(args.output)
  errors = scoring.read_errors(args.output)
  for source, row, path, reason in errors[:_ERRORS_SHOWN]:
    print(f'{source}: row {row}: {path or "(no path)"}: {reason}', file=sys.stderr)
  if len(errors) > _ERRORS_SHOWN:
    print(f'... and {len(errors) - _ERRORS_SHOWN:,} more rows in the errors files', file=sys.stderr)
  print(summary.describe())
  print(f'Predictions: {os.path.join(args.output, scoring.PREDICTIONS_PREFIX)}-*.csv and -*.tfrecord.gz; '
        f'errors: {os.path.join(args.output, scoring.ERRORS_PREFIX)}-*.csv')
  return 1 if summary.errors else 0


def _add_model_flags(parser: argparse.ArgumentParser) -> None:
  """Where the commands that use a pushed model find it: the newest version under the serving folder."""
  parser.add_argument('--config')
  parser.add_argument('--output-dir', dest='output_dir', default=None,
                      help="the pipeline's output folder, whose serving/ holds the model")
  parser.add_argument('--serving-dir', dest='serving_dir', default=None,
                      help='the serving folder itself, when it is not under --output-dir (e.g. gs://...)')
  parser.add_argument('--model-name', dest='model_name', default=None)


def add_parsers(commands: argparse._SubParsersAction) -> None:
  predict = commands.add_parser('predict', help='classify images with the newest pushed model')
  _add_model_flags(predict)
  predict.add_argument('--batch-size', dest='batch_size', type=_positive_int, default=64)
  predict.add_argument('--json', action='store_true', help='print a JSON list instead of TSV lines')
  predict.add_argument('inputs', nargs='+', metavar='FILE_OR_FOLDER')
  predict.set_defaults(handler=_predict)

  batch_predict = commands.add_parser(
      'batch-predict', help='classify many images with the newest pushed model on Apache Beam (RunInference)')
  _add_model_flags(batch_predict)
  batch_predict.add_argument('--input', action='append', required=True, metavar='CSV_OR_FOLDER_OR_PATTERN',
                             help='a CSV (path[,label] rows, paths relative to it), a folder of images or a glob '
                                  'pattern; repeatable')
  batch_predict.add_argument('--output', required=True, help='a new folder for predictions, errors and summary.json')
  batch_predict.add_argument('--top-k', dest='top_k', type=_positive_int, default=3)
  batch_predict.add_argument('--batch-size', dest='batch_size', type=_positive_int, default=64)
  batch_predict.add_argument('--beam-pipeline-args', dest='beam_pipeline_args', default=None,
                             help="Beam's options in one string, e.g. '--runner=DataflowRunner --project=P "
                                  "--region=R --temp_location=gs://B/tmp'; default: the config's (DirectRunner)")
  batch_predict.set_defaults(handler=_batch_predict)

  explain = commands.add_parser(
      'explain', help='integrated-gradients heatmaps of images by the newest pushed model, as PNG overlays')
  _add_model_flags(explain)
  explain.add_argument('--output', default='explanations',
                       help='the folder the overlays are written to, one <image name>_explained.png per image '
                            '(default: explanations/ in the current folder)')
  explain.add_argument('inputs', nargs='+', metavar='FILE_OR_FOLDER')
  explain.set_defaults(handler=_explain)

