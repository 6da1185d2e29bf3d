# wyoming_verba: Wyoming TTS server (Sesame CSM-1b on an NVIDIA GPU, or Edge TTS).
#   docker build -t wyoming-verba .                                    GPU image (CSM + Edge)
#   docker build -t wyoming-verba:cpu --build-arg VARIANT=cpu .        small CPU image (Edge only)
# The GPU image runs the stack the tests run on the lent GPU machine (script/setup --gpu312):
# Python 3.12, torch 2.11.0 (PyPI's build carries CUDA 12.8; the host needs only the NVIDIA
# driver and container toolkit), transformers 5.17.0, accelerate 1.15.0.
ARG VARIANT=gpu
ARG GPU_BASE=python:3.12-slim-bookworm
ARG CPU_BASE=python:3.11-slim-bookworm

FROM ${GPU_BASE} AS base-gpu
ARG TORCH_VERSION=2.11.0
ARG TRANSFORMERS_VERSION=5.17.0
ARG ACCELERATE_VERSION=1.15.0
ENV VERBA_EXTRAS=csm
RUN pip install --no-cache-dir "torch==${TORCH_VERSION}" \
    && pip install --no-cache-dir "transformers==${TRANSFORMERS_VERSION}" \
        "accelerate==${ACCELERATE_VERSION}"

FROM ${CPU_BASE} AS base-cpu
ENV VERBA_EXTRAS=""

# hadolint ignore=DL3006
FROM base-${VARIANT}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VERBA_DATA_DIR=/data \
    HF_HOME=/data/huggingface \
    VERBA_HEALTH_URI=tcp://127.0.0.1:10200
WORKDIR /app

# Dependencies first (cached while only the source changes): install against a stub package.
COPY pyproject.toml README.md ./
# hadolint ignore=DL3013
RUN mkdir -p wyoming_verba \
    && touch wyoming_verba/__init__.py \
    && pip install ".${VERBA_EXTRAS:+[$VERBA_EXTRAS]}" \
    && pip uninstall -y wyoming-verba

COPY wyoming_verba ./wyoming_verba
COPY config.example.yaml ./
COPY docker/entrypoint.sh ./docker/entrypoint.sh
# hadolint ignore=DL3013
RUN pip install --no-deps . \
    && groupadd --system --gid 10200 verba \
    && useradd --system --uid 10200 --gid 10200 --home-dir /data --no-create-home verba \
    && mkdir -p /config /data \
    && chown 10200:10200 /data

USER 10200:10200
VOLUME ["/config", "/data"]
EXPOSE 10200
HEALTHCHECK --interval=30s --timeout=10s --start-period=180s --retries=3 \
    CMD ["wyoming-verba", "health"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
