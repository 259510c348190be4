# The pipeline image: every TFX component runs in it on Kubeflow, and so do the Trainer's TFJob workers.
# Installed from the same lock as `make run`. The tag pins Python 3.11.7 on Debian 12; for byte-identical
# rebuilds also pin what it resolves to, `FROM python:3.11.7-slim-bookworm@sha256:<digest>` (the digest from
# `docker buildx imagetools inspect python:3.11.7-slim-bookworm`).
# GPU and TPU variants: containers/README.md.
FROM python:3.11.7-slim-bookworm

ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /pipeline
COPY requirements/lock.txt requirements/no-deps.txt requirements/
RUN python -m pip install --no-deps --requirement requirements/lock.txt \
 && python -m pip install --no-deps --ignore-requires-python --requirement requirements/no-deps.txt

COPY setup.py ./
COPY pipeline/ pipeline/
COPY components/ components/
RUN python -m pip install --no-deps --no-build-isolation . \
 && groupadd --gid 1000 visionflow \
 && useradd --create-home --uid 1000 --gid 1000 visionflow
USER 1000:1000

# TFX's Kubeflow v2 entry point, taught the report artifact types (components/kfp_entrypoint.py). The
# compiled pipeline spec names it as every component's command anyway; TFJob workers override it.
CMD ["python", "-m", "components.kfp_entrypoint"]
