"""The training record kept beside each exported model: written, read back, and None where it is missing."""
from components import training_record
from components.training_record import TrainingRecord

RECORD = TrainingRecord(labels=('cat', 'dog'), backbone='small_cnn', image_size=32,
                        hyperparameters={'learning_rate': 0.003, 'filters': 32}, train_examples=1000)


def test_the_record_survives_its_file():
  assert TrainingRecord.from_json(RECORD.to_json()) == RECORD
  assert training_record.read_record('/p', {'/p/assets.extra/visionflow_training.json': RECORD.to_json()}.get
                                     ) == RECORD
  assert training_record.read_record('/p', lambda path: (_ for _ in ()).throw(OSError('gone'))) is None
