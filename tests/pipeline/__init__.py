"""Tests of pipeline/: the DAG, config, CLI and prediction."""
