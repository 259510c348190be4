"""The warm-start rule: production's weights only when they fit, and with auto only while little is new."""
from components.trainer import warm_start
from components.training_record import TrainingRecord

PRODUCTION = TrainingRecord(labels=('cat', 'dog'), backbone='small_cnn', image_size=32,
                            hyperparameters={'learning_rate': 0.003, 'filters': 32}, train_examples=1000)


def _current(**changes):
  values = dict(labels=PRODUCTION.labels, backbone='small_cnn', image_size=32,
                hyperparameters=dict(PRODUCTION.hyperparameters), train_examples=1050)
  return TrainingRecord(**dict(values, **changes))


def test_auto_fine_tunes_while_new_examples_are_under_a_tenth_and_retrains_from_scratch_after():
  warm = warm_start.decide(warm_start.AUTO, '/serving/m/7', PRODUCTION, _current(train_examples=1050))
  assert warm.from_dir == '/serving/m/7'
  assert warm.describe() == ('warm start from /serving/m/7: 50 new training examples, 4.8% of 1050, under 10%: '
                             'fine-tuned')
  cold = warm_start.decide(warm_start.AUTO, '/serving/m/7', PRODUCTION, _current(train_examples=1112))
  assert cold.from_dir is None
  assert cold.describe() == ('from scratch: 112 new training examples, 10.1% of 1112, at least 10%: trained '
                             'again from scratch')


def test_always_and_never():
  assert warm_start.decide(warm_start.ALWAYS, '/p', PRODUCTION, _current(train_examples=5000)).from_dir == '/p'
  assert warm_start.decide(warm_start.NEVER, '/p', PRODUCTION, _current()).describe() == (
      'from scratch: warm_start is never')


def test_weights_that_do_not_fit_are_never_used():
  for changes, reason in (({'labels': ('cat', 'dog', 'fish')}, "the class list differs from production's"),
                          ({'image_size': 64}, "the model differs from production's in image_size"),
                          ({'hyperparameters': {'learning_rate': 0.01, 'filters': 32}},
                           "the model differs from production's in hyperparameters")):
    decision = warm_start.decide(warm_start.ALWAYS, '/p', PRODUCTION, _current(**changes))
    assert (decision.from_dir, decision.reason) == (None, reason)
  assert warm_start.decide(warm_start.AUTO, None, None, _current()).reason == 'no model in production'
  assert 'records nothing' in warm_start.decide(warm_start.AUTO, '/old', None, _current()).reason


def test_the_folder_started_from_is_read_back_from_the_description():
  warm = warm_start.decide(warm_start.ALWAYS, '/serving/m/7', PRODUCTION, _current(train_examples=1050))
  assert warm_start.started_from(warm.describe()) == '/serving/m/7'
  cold = warm_start.decide(warm_start.AUTO, '/serving/m/7', PRODUCTION, _current(train_examples=1112))
  assert warm_start.started_from(cold.describe()) is None
