FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 QLINK_VAR_DIR=/app/var OPENBLAS_NUM_THREADS=1
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
RUN pip install --no-cache-dir --no-deps -e . && useradd --create-home qlink && mkdir -p var && chown qlink var
USER qlink
CMD ["qlink", "ui"]
