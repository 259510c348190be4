"""How a fit ended and what the Tuner compared, as the run prints them."""
from components.trainer.outcome import tuner_comparison
from components.trainer.outcome import TrainingOutcome


def test_the_tuners_comparison_names_the_best_trial_of_each_backbone_and_of_augmentation_on_and_off():
  results = [
      {'trial_id': '1', 'score': 0.97, 'backbone': 'efficientnet_lite0', 'augment': False, 'fine_tune': False},
      {'trial_id': '2', 'score': 0.95, 'backbone': 'efficientnet_lite0', 'augment': True, 'fine_tune': False},
      {'trial_id': '3', 'score': 0.84, 'backbone': 'small_cnn', 'augment': True, 'filters': 16},
      {'trial_id': '0', 'score': 0.81, 'backbone': 'small_cnn', 'augment': False, 'filters': 32},
  ]
  assert tuner_comparison(results) == ("the Tuner's best eval accuracy with each: efficientnet_lite0 0.9700, "
                                       'small_cnn 0.8400; augmentation off 0.9700, on 0.9500')
  # One value tried is no comparison; a search over other hyperparameters compares nothing.
  assert tuner_comparison(results[:2]) == (
      "the Tuner's best eval accuracy with each: augmentation off 0.9700, on 0.9500")
  assert tuner_comparison([{'score': 0.9, 'learning_rate': 1e-3}, {'score': 0.8, 'learning_rate': 3e-4}]) is None


def test_the_tuners_comparison_says_when_it_kept_the_defaults_over_a_higher_score():
  """The Tuner's results list the trial it chose first: the defaults', where no other was clearly better."""
  results = [
      {'trial_id': '0', 'score': 0.9634, 'backbone': 'small_cnn', 'augment': False},
      {'trial_id': '1', 'score': 0.9686, 'backbone': 'efficientnet_lite0', 'augment': False},
      {'trial_id': '2', 'score': 0.9581, 'backbone': 'small_cnn', 'augment': True},
  ]
  assert tuner_comparison(results) == (
      "the Tuner's best eval accuracy with each: efficientnet_lite0 0.9686, small_cnn 0.9634; augmentation off "
      '0.9686, on 0.9581; kept the defaults (small_cnn, augmentation off): no other trial was clearly better on the '
      'same eval images')


def test_the_outcome_says_what_the_tuner_chose():
  outcome = TrainingOutcome(epochs_trained=12, best_epoch=7, best_eval_accuracy=0.95, learning_rate=1e-3,
                            stop_reason='no better eval accuracy or loss for 5 epochs', tuned_augmentation=False,
                            tuned_backbone='efficientnet_lite0')
  assert outcome.describe() == (
      'trained 12 epochs, kept epoch 7 (eval accuracy 0.9500); backbone efficientnet_lite0 and augmentation off, '
      'as the Tuner chose on the eval split; stopped: no better eval accuracy or loss for 5 epochs')
  assert TrainingOutcome.from_json(outcome.to_json()) == outcome
