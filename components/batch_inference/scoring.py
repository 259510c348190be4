"""Batch prediction on Apache Beam: a pushed model scores many images with RunInference, batching.

The inputs are CSV files (`path[,label[,...]]`, paths relative to the CSV, as in training: a label column is
carried into the output), folders (walked for image files) and glob patterns. Beam expands and reads them in
its workers, so the same pipeline runs on the DirectRunner here and on Dataflow or Flink through Beam pipeline
args, with the model and the inputs on storage the workers reach (gs://...).

Every input row ends in the predictions or in the errors, with its source, row and reason; summary.json counts
both, so that `rows == predicted + errors` can be checked, and gives the accuracy over labelled rows.
"""
import csv
import dataclasses
import glob
import hashlib
import io
import json
import os
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import apache_beam as beam
import numpy as np
import tensorflow as tf
from apache_beam.ml.inference import base as inference_base

from components import features
from components import paths
from components import pixel_model
from components import image_limits
from components import images
from components import input_files

PREDICTIONS_PREFIX = 'predictions'
ERRORS_PREFIX = 'errors'
SUMMARY_FILE = 'summary.json'
PREDICTION_COLUMNS = ('source', 'row', 'path', 'class', 'probability', 'top_k', 'label')
ERROR_COLUMNS = ('source', 'row', 'path', 'reason')


@dataclasses.dataclass(frozen=True)
class InputRow:
  """One image to score: where it was named (a CSV and its line, or a folder or pattern and the file's position
  in its sorted listing), the image's location, and the label when the CSV has one."""
  source: str
  row: int
  path: str
  label: Optional[str] = None


TopK = Tuple[Tuple[str, float], ...]  # (class, probability), most probable first


@dataclasses.dataclass(frozen=True)
class Scored:
  row: InputRow
  class_name: str
  probability: float
  top_k: TopK


@dataclasses.dataclass(frozen=True)
class Failed:
  row: InputRow
  reason: str


@dataclasses.dataclass(frozen=True)
class Summary:
  """What a batch prediction did: every row in is predicted or failed; accuracy over the labelled rows."""
  model_dir: str
  rows: int
  predicted: int
  errors: int
  labelled: int
  correct: int

  @property
  def accuracy(self) -> Optional[float]:
    return self.correct / self.labelled if self.labelled else None

  def describe(self) -> str:
    accuracy = (f'; accuracy {self.accuracy:.4f} on the {self.labelled:,} labelled rows' if self.labelled
                else '; no row has a label')
    return (f'Scored {self.rows:,} rows with {self.model_dir}: {self.predicted:,} predicted, {self.errors:,} '
            f'errors{accuracy}')

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), sort_keys=True)

  @classmethod
  def read(cls, output_dir: str) -> 'Summary':
    with tf.io.gfile.GFile(os.path.join(output_dir, SUMMARY_FILE)) as handle:
      return cls(**json.load(handle))


def _listing(pattern_or_folder: str) -> List[str]:
  """A folder's image files or a pattern's matches, sorted. Local ones are listed by Python, which gives a file
  name that is not UTF-8 as it gives any other (that file then fails alone, in read_image); tf.io.gfile's
  listing fails as a whole on such a name."""
  remote = paths.is_remote(pattern_or_folder)
  if tf.io.gfile.isdir(pattern_or_folder) if remote else os.path.isdir(pattern_or_folder):
    walk = tf.io.gfile.walk if remote else os.walk
    return sorted(os.path.join(folder, name) for folder, _, names in walk(pattern_or_folder)
                  for name in names if name.lower().endswith(images.IMAGE_EXTENSIONS))
  return sorted(tf.io.gfile.glob(pattern_or_folder) if remote else glob.glob(pattern_or_folder))


def expand_source(source: str) -> Iterator[Union[InputRow, Failed]]:
  """A CSV's rows, a folder's image files, or a pattern's matches, as InputRows; unreadable CSV rows fail."""
  if not source.lower().endswith('.csv'):
    for position, path in enumerate(_listing(source), start=1):
      yield InputRow(source, position, path)
    return
  base_dir = images.parent_dir(source)
  for row_number, cells, problem in input_files.csv_rows(csv.reader(input_files.text_lines(source))):
    if problem:
      yield Failed(InputRow(source, row_number, ''), f'unreadable CSV row: {problem}')
      continue
    cells = [cell.strip() for cell in cells]
    if any(cells):
      label = cells[1] if len(cells) > 1 and cells[1] else None
      yield InputRow(source, row_number, images.resolve_image_path(base_dir, cells[0]) if cells[0] else '', label)


def source_fingerprint(source: str) -> str:
  """SHA-256 over the names, sizes and modification times of what a source lists (a CSV: the file itself), so
  that a step scoring it re-runs when the images change at the same path."""
  listed = [source] if source.lower().endswith('.csv') else _listing(source)
  digest = hashlib.sha256()
  for path in listed:
    if paths.is_remote(path):
      info = tf.io.gfile.stat(path)
      size, modified_ns = info.length, info.mtime_nsec
    else:
      info = os.stat(path)
      size, modified_ns = info.st_size, info.st_mtime_ns
    digest.update(f'{path}\0{size}\0{modified_ns}\n'.encode('utf-8', 'surrogateescape'))
  return digest.hexdigest()


def check_sources(sources: Sequence[str]) -> None:
  """Fails before Beam starts for an input that names nothing: a missing CSV, an empty folder or pattern."""
  for source in sources:
    problem = paths.path_problem(source)
    if problem:
      raise ValueError(f'{paths.printable(source)}: {problem}')
    if source.lower().endswith('.csv'):
      input_files.check_text(source)
    elif not _listing(source):
      raise ValueError(f'{source}: no image file found (a CSV, a folder of images, or a glob pattern)')


def read_errors(output_dir: str) -> List[Tuple[str, str, str, str]]:
  """(source, row, path, reason) of every row that failed, from the errors files."""
  errors = []
  for path in sorted(tf.io.gfile.glob(os.path.join(output_dir, f'{ERRORS_PREFIX}-*.csv'))):
    with tf.io.gfile.GFile(path) as handle:
      errors += [tuple(row) for row in list(csv.reader(handle))[1:]]
  return errors


def check_output_dir(output_dir: str) -> None:
  """Only a new or empty folder: shards already there (an earlier prediction, or one that was interrupted before
  its summary) would mix with the new ones."""
  if tf.io.gfile.exists(os.path.join(output_dir, SUMMARY_FILE)):
    raise ValueError(f'{output_dir} holds an earlier batch prediction ({SUMMARY_FILE}): choose a new folder')
  if not tf.io.gfile.exists(output_dir):
    return
  if not tf.io.gfile.isdir(output_dir):
    raise ValueError(f'{output_dir} is a file: --output must be a new folder')
  found = sorted(tf.io.gfile.listdir(output_dir))
  if found:
    listed = ', '.join(found[:3]) + (f' and {len(found) - 3} more' if len(found) > 3 else '')
    raise ValueError(f'{output_dir} is not empty (it holds {listed}; an interrupted batch prediction leaves '
                     f'shards without {SUMMARY_FILE}): --output must be a new folder')


def read_image(row: Union[InputRow, Failed], limits: image_limits.ImageLimits):
  """(row, bytes) for the model, or a Failed naming why, as ExampleGen would refuse the image."""
  if isinstance(row, Failed):
    return row
  if not row.path:
    return Failed(row, 'empty image path')
  try:
    return row, images.read_model_input(row.path, limits)
  except images.RowRejected as rejected:
    return Failed(row, str(rejected))


@dataclasses.dataclass(frozen=True)
class LoadedModel:
  saved_model: object
  class_names: Tuple[str, ...]  # in the order of the model's probabilities (the labels file's)


class ServingModelHandler(inference_base.ModelHandler):
  """A RunInference model handler for the SavedModel's serving_default signature (encoded image bytes in).

  Beam's own TFModelHandlerTensor does not import with this stack: it imports tensorflow_hub, whose 0.15
  needs tf.estimator (gone from TF 2.16) and pkg_resources (gone from setuptools 82; tensorflow/hub#934), and
  it loads with tf.keras.models.load_model, which cannot rebuild the exported model (its Transform layer and
  dict input). This one loads with tf.saved_model.load, as TF Serving does. A batch with an image TensorFlow
  cannot decode is halved until that image stands alone, and it fails alone with the decoder's reason.
  """

  def __init__(self, model_dir: str, top_k: int, max_batch_size: int):
    super().__init__()
    self._model_dir = model_dir
    self._top_k = top_k
    self._max_batch_size = max_batch_size

  def load_model(self) -> LoadedModel:
    return LoadedModel(tf.saved_model.load(self._model_dir), pixel_model.training_record(self._model_dir).labels)

  def run_inference(self, batch: Sequence[bytes], model: LoadedModel,
                    inference_args=None) -> Iterable[inference_base.PredictionResult]:
    outcomes = self._score(model.saved_model.signatures['serving_default'], list(batch), model.class_names)
    return [inference_base.PredictionResult(data, outcome, self._model_dir) for data, outcome in zip(batch, outcomes)]

  def get_num_bytes(self, batch: Sequence[bytes]) -> int:
    return sum(len(data) for data in batch)

  def get_metrics_namespace(self) -> str:
    return 'visionflow_batch_inference'

  def batch_elements_kwargs(self):
    return {'min_batch_size': 1, 'max_batch_size': self._max_batch_size}

  def _score(self, serve, encoded: List[bytes], class_names: Sequence[str]) -> List[Union[TopK, str]]:
    """Per image, its top-k classes and probabilities, or why TensorFlow could not decode it."""
    try:
      probabilities = serve(**{features.SERVING_INPUT: tf.constant(encoded)})[features.PROBABILITIES].numpy()
    except tf.errors.InvalidArgumentError as error:
      if len(encoded) == 1:
        return [images.decode_failure(images.image_header(encoded[0]).image_format, error)]
      middle = len(encoded) // 2
      return self._score(serve, encoded[:middle], class_names) + self._score(serve, encoded[middle:], class_names)
    best = np.argsort(-probabilities, axis=1)[:, :self._top_k]
    return [tuple((class_names[index], float(row[index])) for index in order)
            for row, order in zip(probabilities, best)]


def _outcome(keyed_result) -> object:
  row, result = keyed_result
  if isinstance(result.inference, str):
    return Failed(row, result.inference)
  best_name, best_probability = result.inference[0]
  return Scored(row, best_name, best_probability, result.inference)


def _csv_line(cells: Iterable[object]) -> str:
  buffer = io.StringIO()
  csv.writer(buffer, lineterminator='').writerow(['' if cell is None else cell for cell in cells])
  return buffer.getvalue()


def prediction_line(scored: Scored) -> str:
  top_k = ';'.join(f'{name}:{probability:.4f}' for name, probability in scored.top_k)
  row = scored.row
  return _csv_line([row.source, row.row, paths.printable(row.path), scored.class_name, f'{scored.probability:.6f}',
                    top_k, row.label])


def error_line(failed: Failed) -> str:
  """The failed row, its path printable (paths.printable): a NUL byte or a line break in it shows escaped."""
  return _csv_line([failed.row.source, failed.row.row, paths.printable(failed.row.path), failed.reason])


def prediction_example(scored: Scored) -> bytes:
  """The prediction as a tf.Example: path, class, probability, top-k classes and probabilities, label."""
  def text(*values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode('utf-8') for value in values]))
  feature = {features.PATH: text(scored.row.path), features.CLASS_NAME: text(scored.class_name),
             'probability': tf.train.Feature(float_list=tf.train.FloatList(value=[scored.probability])),
             'top_k_classes': text(*(name for name, _ in scored.top_k)),
             'top_k_probabilities': tf.train.Feature(float_list=tf.train.FloatList(
                 value=[probability for _, probability in scored.top_k]))}
  if scored.row.label is not None:
    feature[features.LABEL] = text(scored.row.label)
  return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


class _CountOutcomes(beam.CombineFn):
  """[rows, predicted, errors, labelled, correct] over all outcomes."""

  def create_accumulator(self):
    return [0, 0, 0, 0, 0]

  def add_input(self, counts, outcome):
    scored = isinstance(outcome, Scored)
    label = outcome.row.label
    return [counts[0] + 1, counts[1] + scored, counts[2] + (not scored), counts[3] + (scored and label is not None),
            counts[4] + (scored and label == outcome.class_name)]

  def merge_accumulators(self, accumulators):
    return [sum(values) for values in zip(*accumulators)]

  def extract_output(self, counts):
    return counts


def _write_summary(counts: List[int], model_dir: str, output_dir: str) -> None:
  summary = Summary(model_dir, *counts)
  with tf.io.gfile.GFile(os.path.join(output_dir, SUMMARY_FILE), 'w') as handle:
    handle.write(summary.to_json())


@dataclasses.dataclass(frozen=True)
class ScoringSettings:
  model_dir: str   # a pushed version folder: the SavedModel with the serving_default signature
  output_dir: str
  limits: image_limits.ImageLimits = image_limits.ImageLimits(image_size=None)
  top_k: int = 3
  batch_size: int = 64


def _failed_first(item, partitions: int) -> int:
  """beam.Partition's index: 0 for a Failed row, 1 for anything else."""
  return 0 if isinstance(item, Failed) else 1


def score(pipeline: beam.Pipeline, sources: Sequence[str], settings: ScoringSettings) -> None:
  """Adds the batch prediction of `sources` to `pipeline`: predictions (CSV with a header and TFRecord of
  tf.Examples), errors.csv and summary.json under settings.output_dir."""
  output = settings.output_dir
  handler = ServingModelHandler(settings.model_dir, settings.top_k, settings.batch_size)
  rows = (pipeline
          | 'Sources' >> beam.Create(list(sources))
          | 'ExpandSources' >> beam.FlatMap(expand_source)
          | 'Spread' >> beam.Reshuffle())
  unreadable, readable = (rows
                          | 'ReadImages' >> beam.Map(read_image, settings.limits)
                          | 'SplitReadable' >> beam.Partition(_failed_first, 2))
  inferred = (readable
              | 'RunInference' >> inference_base.RunInference(inference_base.KeyedModelHandler(handler))
              | 'Outcomes' >> beam.Map(_outcome))
  outcomes = (unreadable, inferred) | 'AllOutcomes' >> beam.Flatten()
  failed, scored = outcomes | 'SplitScored' >> beam.Partition(_failed_first, 2)
  _ = (scored
       | 'PredictionLines' >> beam.Map(prediction_line)
       | 'WritePredictionsCsv' >> beam.io.WriteToText(
           os.path.join(output, PREDICTIONS_PREFIX), file_name_suffix='.csv', header=','.join(PREDICTION_COLUMNS)))
  _ = (scored
       | 'PredictionExamples' >> beam.Map(prediction_example)
       | 'WritePredictionsTFRecord' >> beam.io.WriteToTFRecord(
           os.path.join(output, PREDICTIONS_PREFIX), file_name_suffix='.tfrecord.gz'))
  _ = (failed
       | 'ErrorLines' >> beam.Map(error_line)
       | 'WriteErrors' >> beam.io.WriteToText(
           os.path.join(output, ERRORS_PREFIX), file_name_suffix='.csv', header=','.join(ERROR_COLUMNS)))
  _ = (outcomes | 'Count' >> beam.CombineGlobally(_CountOutcomes())
       | 'WriteSummary' >> beam.Map(_write_summary, settings.model_dir, output))
