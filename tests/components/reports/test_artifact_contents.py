"""Reading what artifacts keep in files, on files the real writers produce."""
import numpy as np
import tensorflow as tf

from components.reports import artifact_contents


def test_training_curves_are_the_epochs_keras_logged(tmp_path):
  model = tf.keras.Sequential([tf.keras.layers.Dense(2, activation='softmax', input_shape=(3,))])
  model.compile(optimizer='sgd', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
  features = np.random.default_rng(0).normal(size=(32, 3)).astype('float32')
  labels = (features[:, 0] > 0).astype('int64')
  history = model.fit(features, labels, validation_split=0.25, epochs=3, verbose=0,
                      callbacks=[tf.keras.callbacks.TensorBoard(log_dir=str(tmp_path))])
  curves = artifact_contents.training_curves(str(tmp_path))
  assert set(curves) >= {'loss', 'accuracy'}
  assert set(curves['loss']) == {'train', 'validation'}
  assert [epoch for epoch, _ in curves['loss']['train']] == [0, 1, 2]
  np.testing.assert_allclose([value for _, value in curves['loss']['train']], history.history['loss'], rtol=1e-5)
  np.testing.assert_allclose([value for _, value in curves['accuracy']['validation']],
                             history.history['val_accuracy'], rtol=1e-5)


def test_a_partly_written_event_file_yields_its_complete_records(tmp_path):
  writer = tf.summary.create_file_writer(str(tmp_path / 'train'))
  with writer.as_default():
    for step in range(3):
      tf.summary.scalar('epoch_loss', 1.0 / (step + 1), step=step)
  writer.close()
  [path] = list((tmp_path / 'train').iterdir())
  data = path.read_bytes()
  path.write_bytes(data[:-7])  # the last record cut short, as while the Trainer is still writing
  points = artifact_contents.training_curves(str(tmp_path))['loss']['train']
  assert points == [(0, 1.0), (1, 0.5)]
