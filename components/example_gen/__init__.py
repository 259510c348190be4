"""The ExampleGen step: JPEG/CSV rows (or class folders) to checked tf.Examples, every rejected row reported."""
