# The spur worker image for docker-compose (not buildable on the machines spur
# is developed on: no Docker engine there; see README).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas schemas
COPY streams streams
COPY sinks sinks
COPY spur spur
RUN pip install --no-cache-dir '.[worker]'
USER nobody
ENV SPUR_STATE_DIR=/tmp/spur
ENTRYPOINT ["spur"]
CMD ["worker"]
