"""Tests of pipeline/commands/."""
