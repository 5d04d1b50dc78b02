# ailogs API image: `docker compose build ailogs`.
# Build a wheel (it carries the Alembic migrations and the price table), then
# install it alone into a slim runtime that runs as an unprivileged user.
FROM python:3.11-slim AS build
# A C compiler for the native speed-ups (hatch_build.py).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md hatch_build.py ./
COPY src ./src
COPY migrations ./migrations
COPY config ./config
RUN AILOGS_NATIVE=1 pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN useradd --system --uid 10001 --home-dir /app ailogs
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /app
# Data the app reads at run time (pattern library, prices); migrations ship in the wheel.
COPY config ./config
USER ailogs
EXPOSE 8000
ENTRYPOINT ["ailogs"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
