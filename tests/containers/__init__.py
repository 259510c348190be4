"""Tests that build and run the pipeline images in Docker (marked containers)."""
