# The pipeline image: every component runs in it on Kubeflow. Installed from the same lock as `make run`.
FROM python:3.11.7-slim-bookworm

ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /pipeline
COPY requirements/ requirements/
RUN python -m pip install --no-deps --requirement requirements/lock.txt \
 && python -m pip install --no-deps --ignore-requires-python --requirement requirements/no-deps.txt

COPY setup.py ./
COPY pipeline/ pipeline/
COPY components/ components/
RUN python -m pip install --no-deps --no-build-isolation . \
 && useradd --create-home --uid 1000 visionflow
USER visionflow
