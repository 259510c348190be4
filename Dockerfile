# The pipeline image: every TFX component runs in it on Kubeflow, and so do the Trainer's TFJob workers.
# It installs the runtime lock (requirements/runtime.txt: no test, lint or notebook tooling) into a virtual
# environment at /opt/visionflow, on PATH, so that the official Python image and a Debian 12 base with
# Debian's python3 behave the same. Wheels that need a compiler (pyfarmhash) are built in the builder stage;
# the runtime stage has no compiler.
#   docker build -t visionflow:dev .                                   # on python:3.11.7-slim-bookworm
#   docker build --build-arg BASE_IMAGE=visionflow-base:bookworm ...   # on scripts/debian-base.sh's base
# For byte-identical rebuilds pin the digest too: python:3.11.7-slim-bookworm@sha256:<digest>.
# GPU and TPU variants build on this image: containers/README.md.
ARG BASE_IMAGE=python:3.11.7-slim-bookworm

FROM ${BASE_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/visionflow/bin:${PATH}
# Debian's python3 has no headers without python3-dev; the official image has its own in /usr/local.
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++=4:12.2.* libc6-dev=2.36-* \
 && if ! python3 -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(sysconfig.get_path("include") + "/Python.h"))'; \
    then apt-get install -y --no-install-recommends python3-dev=3.11.2-*; fi \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/visionflow
WORKDIR /build
COPY requirements/runtime.txt requirements/no-deps.txt requirements/
# TensorFlow's C++ headers (420 MB) serve only to compile custom ops, which no image does.
RUN python -m pip install --no-deps --no-compile --requirement requirements/runtime.txt \
 && python -m pip install --no-deps --no-compile --ignore-requires-python --requirement requirements/no-deps.txt \
 && rm -rf /opt/visionflow/lib/python3.11/site-packages/tensorflow/include
# Steps run as a user who cannot write bytecode into the environment, so each would compile every source it
# imports again (7.5 s of each step's start). Importing what the executors import compiles just that, once:
# 120 MB, where all of the environment's bytecode would be 440 MB.
RUN TF_USE_LEGACY_KERAS=1 python -c 'import tensorflow, tf_keras, keras_tuner, tensorflow_transform.beam, \
  tensorflow_model_analysis, tensorflow_data_validation, fairness_indicators, \
  apache_beam.runners.direct.direct_runner, apache_beam.runners.portability.fn_api_runner.fn_runner, \
  tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor, tfx.components.statistics_gen.executor, \
  tfx.components.schema_gen.executor, tfx.components.example_validator.executor, \
  tfx.components.transform.executor, tfx.components.trainer.executor, tfx.components.tuner.executor, \
  tfx.components.evaluator.executor, tfx.components.pusher.executor'
# The project is a wheel beside the environment, so that a change to its code rebuilds only its own layers.
COPY setup.py ./
COPY pipeline/ pipeline/
COPY components/ components/
RUN python -m pip wheel --no-deps --no-build-isolation --wheel-dir /wheels .

FROM ${BASE_IMAGE}
ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/visionflow/bin:${PATH}
COPY --from=builder /opt/visionflow /opt/visionflow
RUN groupadd --gid 1000 visionflow \
 && useradd --create-home --uid 1000 --gid 1000 visionflow
COPY --from=builder /wheels /wheels
RUN python -m pip install --no-deps /wheels/*.whl && rm -rf /wheels
WORKDIR /home/visionflow
USER 1000:1000

# TFX's Kubeflow v2 entry point, fitted to self-hosted Kubeflow Pipelines (pipeline/runners/kubeflow_entrypoint.py). The
# compiled pipeline spec names it as every component's command anyway; TFJob workers override it.
CMD ["python", "-m", "pipeline.runners.kubeflow_entrypoint"]
