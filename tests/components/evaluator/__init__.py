"""Tests of components/evaluator/."""
