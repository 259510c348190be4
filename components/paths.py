"""Whether a path is on this machine's file system or behind a scheme (gs://, s3://, hdfs://) that only
tf.io.gfile reaches, and how a TFRecord file is compressed. It imports nothing, so readers that must not
import TensorFlow can ask too."""


def is_remote(path: str) -> bool:
  """`gs://bucket/x` and other scheme-qualified paths; a local path has no scheme."""
  return '://' in path


def record_compression(path: str) -> str:
  """A TFRecord file's compression as TFX's readers tell it, from the name: 'GZIP' for `.gz`, else ''."""
  return 'GZIP' if path.endswith('.gz') else ''
