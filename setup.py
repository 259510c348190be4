"""visionflow: an end-to-end TFX image classification pipeline for local runs and Kubeflow Pipelines.

Dependencies are pinned in requirements/dev.txt and requirements/runtime.txt and installed from them (see the
Makefile and the Dockerfile): tfx 1.16 declares Requires-Python <3.11, so no resolver would accept it from
install_requires on Python 3.11.
"""
from setuptools import find_packages, setup

setup(
    name='visionflow',
    version='0.1.0',
    description='End-to-end TFX image classification pipeline',
    python_requires='>=3.11,<3.12',
    packages=find_packages(include=['pipeline', 'pipeline.*', 'components', 'components.*']),
    package_data={'pipeline.inspect': ['templates/*.html'], 'pipeline.scheduling': ['*.service']},
    entry_points={'console_scripts': ['visionflow = pipeline.cli:main']},
)
