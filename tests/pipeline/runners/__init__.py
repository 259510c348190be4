"""Tests of pipeline/runners/."""
