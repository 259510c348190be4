"""Continuous evaluation: the model in production measured on newly labelled images, and the alerts."""
