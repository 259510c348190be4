"""The Transform step: the tf.Transform preprocessing shared by training, evaluation and serving."""
