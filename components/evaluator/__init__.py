"""The Evaluator step: TFMA on the test split, sliced and with Fairness Indicators, blessed against production."""
