"""A FileBasedExampleGen executor: a CSV of image paths and labels -> tf.Examples, with Apache Beam.

Streaming end to end (no grouping of image bytes), so memory does not grow with the number of images:
rows are read in order, each image is read, checked and turned into an example, and examples are
written to uncompressed TFRecord shards of about `shard_bytes` each (GZIP would spend most of ExampleGen's
time to save about 3% on already-compressed image bytes). Every row ends in exactly one place: an
output split or `rejects.csv` in the output artifact. The split is the CSV's split column when present,
else a hash of the image's bytes, so identical images under two paths always share a split.
"""
import bisect
import concurrent.futures
import csv
import dataclasses
import itertools
import os
import re
import uuid
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import apache_beam as beam
import tensorflow as tf
from absl import logging
from apache_beam.metrics.metric import MetricsFilter
from google.protobuf import json_format
from google.protobuf import struct_pb2
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen import write_split
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from components import compat
from components import executor_settings
from components.example_gen import image_rows
from components import image_limits
from components import images
from components import input_files
from components import names
from components import model_choice
from components import paths

_METRICS_NAMESPACE = 'visionflow_example_gen'
_REJECTED = 'rejected'
_EXPLICIT_SPLITS = 'explicit_splits'
_COLOUR_IMAGES = 'colour_images'
_SHORTER_SIDE_AT_LEAST = 'shorter_side_at_least_'
# Rows per call of the image loader, and images whose pixels are verified in one TensorFlow call: enough to
# keep every core decoding, few enough (and at most LOAD_BATCH_BYTES of files) to keep memory flat however
# many images there are.
LOAD_BATCH_ROWS = 256
VERIFY_ROWS = 64
LOAD_BATCH_BYTES = 32_000_000


@dataclasses.dataclass(frozen=True)
class Settings:
  """ExampleGen's own settings, carried in its custom_config."""
  labels: Tuple[str, ...]
  csv_columns: Optional[Tuple[str, ...]] = None  # names of the CSV's columns; None: image_path,label[,split]
  csv_header: bool = False                         # the CSV's first line names its columns
  max_image_pixels: int = image_limits.ImageLimits.max_pixels  # width x height from the header; larger is rejected
  max_image_bytes: int = image_limits.ImageLimits.max_bytes  # file size from stat, before reading; larger is rejected
  max_aspect_ratio: float = image_limits.ImageLimits.max_aspect_ratio  # longer over shorter side; larger is rejected
  # Transform's square, or its smallest when the data chooses it: a side resizing to 0 is rejected.
  image_size: int = model_choice.IMAGE_SIZES[0]
  max_reject_fraction: float = 0.05                # above this the run fails (after writing rejects.csv)
  shard_bytes: int = 100_000_000                   # output files of about this many bytes
  verify_decode: bool = True                       # decode each image once to reject corrupt files
  layout: str = 'csv'                              # 'csv', or 'folder': class sub-folders, no CSV
  # For spans: the input pattern as configured ({SPAN} or {YYYY}{MM}{DD} unresolved) and how many of the
  # newest spans to read; the driver resolves only the newest.
  input_pattern: Optional[str] = None
  num_spans: int = 1
  # components/code_fingerprint.py: in ExampleGen's cache key, and so, through its outputs, in every step's.
  code_fingerprint: str = ''

  @property
  def limits(self) -> image_limits.ImageLimits:
    return image_limits.ImageLimits(max_pixels=self.max_image_pixels, max_bytes=self.max_image_bytes,
                              max_aspect_ratio=self.max_aspect_ratio, image_size=self.image_size)


class RejectedRowsError(compat.RecordedFailure):
  """Too many rows were rejected, none was accepted, or a split would be empty: ExampleGen refuses the data.

  The message names the counts and the kept report; the failed execution records the report's path as well.
  """

  def __init__(self, message: str, report_uri: str):
    super().__init__(message, {names.REFUSED_REJECTS_URI: report_uri})


def make_custom_config(settings: Settings) -> example_gen_pb2.CustomConfig:
  """Packs the settings the way FileBasedExampleGen carries them (a Struct in an Any)."""
  packed = struct_pb2.Struct()
  packed.update(executor_settings.to_json_dict(settings))
  custom_config = example_gen_pb2.CustomConfig()
  custom_config.custom_config.Pack(packed)
  return custom_config


def parse_custom_config(custom_config_json: str) -> Settings:
  custom_config = example_gen_pb2.CustomConfig()
  json_format.Parse(custom_config_json, custom_config)
  packed = struct_pb2.Struct()
  if not custom_config.custom_config.Unpack(packed):
    raise ValueError('ExampleGen custom_config must hold a google.protobuf.Struct; '
                     'build it with components.example_gen.executor.make_custom_config')
  return executor_settings.from_json_dict(Settings, json_format.MessageToDict(packed))


def make_input_config(csv_path: str) -> Tuple[str, example_gen_pb2.Input]:
  """(input_base, input_config) that point FileBasedExampleGen at a CSV.

  The path may hold TFX span specs, `{SPAN}` or `{YYYY}`/`{MM}`/`{DD}` (e.g. `/data/span-{SPAN}/all.csv`):
  input_base is then the folder above the first spec, and each run reads the newest span.
  """
  parts = csv_path.split('/')
  first_spec = next((index for index, part in enumerate(parts) if '{' in part), len(parts) - 1)
  return '/'.join(parts[:first_spec]), example_gen_pb2.Input(splits=[
      example_gen_pb2.Input.Split(name='all', pattern='/'.join(parts[first_spec:]))])


def make_folder_input_config(image_folder: str) -> Tuple[str, example_gen_pb2.Input]:
  """(input_base, input_config) for a folder of class sub-folders; the driver fingerprints every image."""
  return image_folder, example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name='all', pattern='*/*')])


def make_output_config(train_buckets: int, eval_buckets: int, test_buckets: int) -> example_gen_pb2.Output:
  """train/eval/test in these proportions, for rows whose CSV names no split."""
  return example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
      example_gen_pb2.SplitConfig.Split(name='train', hash_buckets=train_buckets),
      example_gen_pb2.SplitConfig.Split(name='eval', hash_buckets=eval_buckets),
      example_gen_pb2.SplitConfig.Split(name='test', hash_buckets=test_buckets)]))


def split_for_content(content_sha256: str, split_names: Sequence[str], bucket_ends: Sequence[int]) -> str:
  """The split of an image, from its bytes' hash: stable across runs, paths and row order."""
  return split_names[bisect.bisect(bucket_ends, int(content_sha256, 16) % bucket_ends[-1])]


class _LoadImages(beam.DoFn):
  """A batch of ImageRows -> serialized examples in their splits' outputs; Rejections and failing rows ->
  rejects.

  Each image is read and checked from its header here, one by one (Python, holding the GIL); the pixels of
  each chunk of `VERIFY_ROWS` images (at most `LOAD_BATCH_BYTES` of files) are verified in one TensorFlow call
  on a background thread (images.check_pixels, on every core, without the GIL) while the next chunk is read.
  """

  def __init__(self, settings: Settings, split_names: Sequence[str], bucket_ends: Sequence[int]):
    self._settings = settings
    self._split_names = list(split_names)
    self._bucket_ends = list(bucket_ends)
    self._accepted = {name: beam.metrics.Metrics.counter(_METRICS_NAMESPACE, f'accepted_{name}')
                      for name in split_names}
    self._rejected = beam.metrics.Metrics.counter(_METRICS_NAMESPACE, _REJECTED)
    self._colour = beam.metrics.Metrics.counter(_METRICS_NAMESPACE, _COLOUR_IMAGES)
    self._sides = [(size, beam.metrics.Metrics.counter(_METRICS_NAMESPACE, f'{_SHORTER_SIDE_AT_LEAST}{size}'))
                   for size in model_choice.IMAGE_SIZES]

  def setup(self):
    self._verifier = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix='verify_pixels')

  def teardown(self):
    self._verifier.shutdown()

  def process(self, rows):
    verifying = None  # the previous chunk, and its verification running in the background
    chunk, chunk_bytes = [], 0
    for row in rows:
      if isinstance(row, image_rows.Rejection):
        yield self._reject(row)
        continue
      try:
        image = image_rows.read_checked(row, self._settings.labels, self._settings.limits)
      except images.RowRejected as rejected:
        yield self._reject(_rejection(row, str(rejected)))
        continue
      chunk.append(image)
      chunk_bytes += len(image.data)
      if len(chunk) >= VERIFY_ROWS or chunk_bytes >= LOAD_BATCH_BYTES:
        if verifying:
          yield from self._examples(*verifying)
        verifying = chunk, self._verifier.submit(self._check_pixels, chunk)
        chunk, chunk_bytes = [], 0
    if verifying:
      yield from self._examples(*verifying)
    yield from self._examples(chunk, self._verifier.submit(self._check_pixels, chunk))

  def _check_pixels(self, checked: Sequence[image_rows.CheckedImage]) -> List[images.PixelCheck]:
    """Each image's pixel check; without verify_decode, none is decoded and colour is the header's."""
    if self._settings.verify_decode:
      return images.check_pixels(checked)
    return [images.PixelCheck(None, image.colour) for image in checked]

  def _examples(self, checked: Sequence[image_rows.CheckedImage], checks: concurrent.futures.Future):
    for image, check in zip(checked, checks.result()):
      if check.failure:
        yield self._reject(_rejection(image.row, check.failure))
        continue
      example, content_sha256 = image_rows.to_example(image)
      if image.row.split:
        split = image.row.split
        yield beam.pvalue.TaggedOutput(_EXPLICIT_SPLITS, (content_sha256, (image.row.row_number, split)))
      else:
        split = split_for_content(content_sha256, self._split_names, self._bucket_ends)
      self._count_accepted(split, image, check.colour)
      yield beam.pvalue.TaggedOutput(split, example.SerializeToString())

  def _count_accepted(self, split: str, image: image_rows.CheckedImage, colour: bool) -> None:
    """The split's count, and the image statistics the model's defaults are chosen from."""
    self._accepted[split].inc()
    if colour:
      self._colour.inc()
    shorter_side = min(image.height, image.width)
    for size, counter in self._sides:
      if shorter_side >= size:
        counter.inc()

  def _reject(self, rejection: image_rows.Rejection):
    self._rejected.inc()
    return beam.pvalue.TaggedOutput(_REJECTED, rejection)


def _rejection(row: image_rows.ImageRow, reason: str) -> image_rows.Rejection:
  return image_rows.Rejection(row.row_number, row.path, row.label, reason, row.csv_path)


class _WriteShards(beam.DoFn):
  """Writes records to uncompressed TFRecord files of about `shard_bytes`, without grouping them first.

  The files' names have no `.gz`: every TFX reader (Beam's ReadFromTFRecord, tfx_bsl's datasets) and
  paths.record_compression choose the compression from the name, although the artifact's file_format stays
  TFX's only TFRecord format name, `tfrecords_gzip`.

  Each file is written under a temporary name outside the split folder and moved in when complete, so
  readers of the split never see a partial file.
  """

  def __init__(self, split_dir: str, temp_dir: str, shard_bytes: int):
    self._split_dir = split_dir
    self._temp_dir = temp_dir
    self._shard_bytes = shard_bytes

  def start_bundle(self):
    self._writer = None
    self._temp_path = None
    self._written = 0

  def process(self, record: bytes):
    if self._writer is None or self._written >= self._shard_bytes:
      self._close()
      tf.io.gfile.makedirs(self._temp_dir)
      self._temp_path = os.path.join(self._temp_dir, f'{write_split.DEFAULT_FILE_NAME}-{uuid.uuid4().hex}')
      self._writer = tf.io.TFRecordWriter(self._temp_path)
      self._written = 0
    self._writer.write(record)
    self._written += len(record)

  def finish_bundle(self):
    self._close()

  def _close(self):
    if self._writer is not None:
      self._writer.close()
      tf.io.gfile.makedirs(self._split_dir)
      tf.io.gfile.rename(self._temp_path, os.path.join(self._split_dir, os.path.basename(self._temp_path)))
      self._writer = None


def _write_rejects(rejections: Iterable[image_rows.Rejection], path: str) -> None:
  """rejects.csv, sorted by CSV and row: row, path, label, reason, and the CSV the row is in.

  Paths are written printable (paths.printable): a NUL byte or a line break in a path shows as an escape.
  """
  with tf.io.gfile.GFile(path, 'w') as handle:
    writer = csv.writer(handle)
    writer.writerow(['row', 'path', 'label', 'reason', 'csv'])
    for rejection in sorted(rejections, key=lambda item: (item.csv_path, item.row_number)):
      writer.writerow([rejection.row_number, paths.printable(rejection.path), rejection.label, rejection.reason,
                       rejection.csv_path])


def _split_conflicts(item) -> Iterable[Tuple[int, str, str]]:
  """Rows whose image bytes also appear, on another row, with another split: (row, split, other rows)."""
  _, rows = item
  rows = sorted(rows)
  if len({split for _, split in rows}) > 1:
    for row_number, split in rows:
      others = ', '.join(f'row {other} ({other_split})' for other, other_split in rows if other != row_number)
      yield row_number, split, others


def _write_conflicts(conflicts: Iterable[Tuple[int, str, str]], path: str) -> None:
  conflicts = sorted(conflicts)
  if conflicts:
    with tf.io.gfile.GFile(path, 'w') as handle:
      writer = csv.writer(handle)
      writer.writerow(['row', 'split', 'same image bytes as'])
      writer.writerows(conflicts)


def build_beam_pipeline(pipeline: beam.Pipeline, sources: Sequence[Tuple[str, str]], settings: Settings,
                        split_names: Sequence[str], bucket_ends: Sequence[int], output_uri: str) -> None:
  """CSVs -> checked examples in `<output_uri>/Split-<name>/`, rejects in `<output_uri>/rejects.csv`.

  `sources` are (csv_path, folder its relative image paths resolve against). `bucket_ends` are the
  cumulative hash buckets of `split_names`, for rows whose CSV names no split.
  """
  loaded = (pipeline
            | 'CsvPaths' >> beam.Create(list(sources))
            | 'ReadCsvRows' >> beam.FlatMap(lambda source: image_rows.read_rows(
                source[0], settings.csv_columns, settings.csv_header, base_dir=source[1]))
            | 'BatchRows' >> beam.BatchElements(min_batch_size=LOAD_BATCH_ROWS, max_batch_size=LOAD_BATCH_ROWS)
            | 'LoadImages' >> beam.ParDo(_LoadImages(settings, split_names, bucket_ends)).with_outputs(
                _REJECTED, _EXPLICIT_SPLITS, *split_names))
  for name in split_names:
    _ = loaded[name] | f'Write[{name}]' >> beam.ParDo(
        _WriteShards(split_dir(output_uri, name), _temp_dir(output_uri), settings.shard_bytes))
  _ = (loaded[_REJECTED]
       | 'CollectRejects' >> beam.combiners.ToList()
       | 'WriteRejects' >> beam.Map(_write_rejects, os.path.join(output_uri, names.REJECTS_FILE)))
  _ = (loaded[_EXPLICIT_SPLITS]
       | 'GroupByImageBytes' >> beam.GroupByKey()
       | 'FindSplitConflicts' >> beam.FlatMap(_split_conflicts)
       | 'CollectConflicts' >> beam.combiners.ToList()
       | 'WriteConflicts' >> beam.Map(_write_conflicts, os.path.join(output_uri, names.SPLIT_CONFLICTS_FILE)))


def split_dir(output_uri: str, split_name: str) -> str:
  """Where TFX components look for a split of an Examples artifact."""
  return os.path.join(output_uri, names.SPLIT_PREFIX + split_name)


def _temp_dir(output_uri: str) -> str:
  return os.path.join(output_uri, '.incomplete')


class Executor(base_beam_executor.BaseBeamExecutor):
  """Runs `build_beam_pipeline`, records the counts on the Examples artifact, enforces the reject limit."""

  def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
         exec_properties: Dict[str, Any]) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    input_config, output_config = _split_configs(exec_properties)
    settings = parse_custom_config(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY])
    input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    compat.resolve_spans_without_driver(input_base, input_config, exec_properties)
    split_names = [split.name for split in output_config.split_config.splits]
    bucket_ends = list(itertools.accumulate(split.hash_buckets for split in output_config.split_config.splits))
    examples = _examples_artifact(output_dict, split_names, exec_properties)
    sources = _input_sources(input_base, input_config.splits[0].pattern, settings, exec_properties,
                             examples.uri)
    csv_path = ', '.join(source for source, _ in sources)
    counts = self._run_beam_pipeline(sources, settings, split_names, bucket_ends, examples.uri)
    accepted = {name: counts.get(f'accepted_{name}', 0) for name in split_names}
    rejected = counts.get(_REJECTED, 0)
    _record_counts(examples, accepted, rejected, counts)
    _refuse_unusable_data(csv_path, examples.uri, accepted, rejected, settings.max_reject_fraction)

  def _run_beam_pipeline(self, sources: Sequence[Tuple[str, str]], settings: Settings, split_names: Sequence[str],
                         bucket_ends: Sequence[int], output_uri: str) -> Dict[str, int]:
    """Checks the CSVs are text, runs build_beam_pipeline to the end, removes its temporary files; its counters."""
    for source, _ in sources:
      input_files.check_text(source)
    logging.info('Reading %s', ', '.join(source for source, _ in sources))
    pipeline = self._make_beam_pipeline()
    build_beam_pipeline(pipeline, sources, settings, split_names, bucket_ends, output_uri)
    result = pipeline.run()
    result.wait_until_finish()
    counts = _counters(result)
    if tf.io.gfile.exists(_temp_dir(output_uri)):
      tf.io.gfile.rmtree(_temp_dir(output_uri))
    return counts


def _split_configs(exec_properties: Dict[str, Any]) -> Tuple[example_gen_pb2.Input, example_gen_pb2.Output]:
  """(input_config, output_config): one input CSV, and the output splits."""
  input_config = example_gen_pb2.Input()
  proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
  output_config = example_gen_pb2.Output()
  proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], output_config)
  if len(input_config.splits) != 1 or not output_config.split_config.splits:
    raise ValueError('the image ExampleGen takes one input CSV and an output split_config')
  return input_config, output_config


def _examples_artifact(output_dict: Dict[str, List[Any]], split_names: Sequence[str],
                       exec_properties: Dict[str, Any]):
  """The output Examples, with its splits and span set and its folder made."""
  examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
  examples.split_names = artifact_utils.encode_split_names(list(split_names))
  if exec_properties.get(example_gen_utils.SPAN_PROPERTY_NAME) is not None:
    examples.span = int(exec_properties[example_gen_utils.SPAN_PROPERTY_NAME])
  tf.io.gfile.makedirs(examples.uri)
  return examples


def _record_counts(examples, accepted: Dict[str, int], rejected: int, counts: Dict[str, int]) -> None:
  """The rows accepted (per split) and rejected, the rejects report and the image statistics, on the artifact."""
  rejects_uri = os.path.join(examples.uri, names.REJECTS_FILE)
  examples.set_int_custom_property(names.ACCEPTED_ROWS, sum(accepted.values()))
  examples.set_int_custom_property(names.REJECTED_ROWS, rejected)
  for name, count in accepted.items():
    examples.set_int_custom_property(names.accepted_rows_in(name), count)
  examples.set_string_custom_property(names.REJECTS_URI, rejects_uri)
  examples.set_int_custom_property(names.COLOUR_IMAGES, counts.get(_COLOUR_IMAGES, 0))
  examples.set_json_value_custom_property(names.SHORTER_SIDE_AT_LEAST, {
      str(size): counts.get(f'{_SHORTER_SIDE_AT_LEAST}{size}', 0) for size in model_choice.IMAGE_SIZES})
  examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
  examples_utils.set_file_format(examples, write_split.to_file_format_str(example_gen_pb2.FORMAT_TFRECORDS_GZIP))
  logging.info('ExampleGen accepted %d rows (%s) and rejected %d; rejects: %s', sum(accepted.values()),
               ', '.join(f'{name} {count}' for name, count in accepted.items()), rejected, rejects_uri)


def _refuse_unusable_data(csv_path: str, output_uri: str, accepted: Dict[str, int], rejected: int,
                          max_reject_fraction: float) -> None:
  """Raises RejectedRowsError, keeping the reports, for split conflicts, no accepted row, too many rejected rows
  or an empty split."""
  rejects_uri = os.path.join(output_uri, names.REJECTS_FILE)
  conflicts_uri = os.path.join(output_uri, names.SPLIT_CONFLICTS_FILE)
  total = sum(accepted.values()) + rejected
  if tf.io.gfile.exists(conflicts_uri):
    kept = _keep_after_failure(conflicts_uri)
    _keep_after_failure(rejects_uri)
    raise RejectedRowsError(
        f'{csv_path}: the same image bytes appear on rows that name different splits, which would put one '
        f'image in two splits; fix the split column. Rows: {kept}', _refused_rejects(rejects_uri))
  if not sum(accepted.values()):
    raise RejectedRowsError(f'{csv_path}: no valid row: accepted 0, rejected {rejected}. '
                            f'Reasons per row: {_keep_after_failure(rejects_uri)}', _refused_rejects(rejects_uri))
  if rejected / total > max_reject_fraction:
    raise RejectedRowsError(
        f'{csv_path}: accepted {total - rejected}, rejected {rejected} of {total} rows '
        f'({rejected / total:.1%}), above max_reject_fraction={max_reject_fraction:g}. '
        f'Reasons per row: {_keep_after_failure(rejects_uri)}', _refused_rejects(rejects_uri))
  empty = [name for name, count in accepted.items() if not count]
  if empty:
    raise RejectedRowsError(
        f'{csv_path}: split {", ".join(empty)} would be empty: accepted {total - rejected} rows '
        f'({", ".join(f"{name} {count}" for name, count in accepted.items())}), rejected {rejected}; '
        f'every split needs examples (add rows, or name splits in a split column). '
        f'Reasons per row: {_keep_after_failure(rejects_uri)}', _refused_rejects(rejects_uri))


def _input_sources(input_base: str, resolved_pattern: str, settings: Settings,
                   exec_properties: Dict[str, Any], output_uri: str) -> List[Tuple[str, str]]:
  """The (csv_path, image base folder) pairs this execution reads."""
  if settings.layout == 'folder':
    return [(derive_folder_csv(input_base, os.path.join(output_uri, names.DERIVED_CSV_FILE)), input_base)]
  newest_span = exec_properties.get(example_gen_utils.SPAN_PROPERTY_NAME)
  if settings.num_spans <= 1 or newest_span is None or not settings.input_pattern:
    csv_path = images.resolve_image_path(input_base, resolved_pattern)
    return [(csv_path, images.parent_dir(csv_path))]
  is_span = re.search(example_gen_utils.SPAN_FULL_REGEX, settings.input_pattern) is not None
  sources = []
  for span in range(max(0, int(newest_span) - settings.num_spans + 1), int(newest_span) + 1):
    pattern = example_gen_utils.get_pattern_for_span_version(
        settings.input_pattern, is_span, not is_span, False, span, None)
    csv_path = images.resolve_image_path(input_base, pattern)
    if tf.io.gfile.exists(csv_path):
      sources.append((csv_path, images.parent_dir(csv_path)))
    else:
      logging.info('Span %d has no input at %s', span, csv_path)
  return sources


def derive_folder_csv(image_folder: str, csv_path: str) -> str:
  """Writes `class/file,class` rows for every file in the folder's class sub-folders; returns csv_path.

  Rows are sorted, so rejects.csv row numbers refer to this derived CSV, kept in the output artifact.
  """
  with tf.io.gfile.GFile(csv_path, 'w') as handle:
    writer = csv.writer(handle)
    for class_name in image_rows.folder_classes(image_folder):
      class_dir = images.resolve_image_path(image_folder, class_name)
      for name in sorted(tf.io.gfile.listdir(class_dir)):
        if not tf.io.gfile.isdir(images.resolve_image_path(class_dir, name)):
          writer.writerow([f'{class_name}/{name}', class_name])
  return csv_path


def _refused_rejects(rejects_uri: str) -> str:
  """Where a refused execution keeps a report: `<...>/examples/<id>/rejects.csv` as
  `<...>/examples/<id>-refused/rejects.csv`, outside the output artifact, which TFX deletes on failure."""
  artifact_dir, name = os.path.split(rejects_uri)
  return os.path.join(artifact_dir.rstrip('/') + names.REFUSED_FOLDER_SUFFIX, name)


def _keep_after_failure(report_uri: str) -> str:
  """Copies a report out of the output artifact to where _refused_rejects says; returns its new path."""
  kept_uri = _refused_rejects(report_uri)
  tf.io.gfile.makedirs(os.path.dirname(kept_uri))
  tf.io.gfile.copy(report_uri, kept_uri, overwrite=True)
  return kept_uri


def _counters(result) -> Dict[str, int]:
  query = result.metrics().query(MetricsFilter().with_namespace(_METRICS_NAMESPACE))
  counts: Dict[str, int] = {}
  for counter in query['counters']:
    counts[counter.key.metric.name] = counts.get(counter.key.metric.name, 0) + counter.committed
  return counts
