# One image for every Casemesh service; the service is chosen by the command,
# e.g. `docker run casemesh:0.1.0 run approvals`.
FROM python:3.11.10-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 casemesh \
    && useradd --system --uid 10001 --gid casemesh --no-create-home --shell /usr/sbin/nologin casemesh

WORKDIR /app

# Dependency metadata first so the layer is reused while only sources change.
COPY pyproject.toml constraints.txt ./
COPY contracts/ contracts/
COPY kit/ kit/
COPY services/ services/
COPY casemesh/ casemesh/
# The broker's security jobs (python -m deploy.kafka: certificate, topics and ACLs) run this image too.
COPY deploy/ deploy/

# casemesh-contracts is its own distribution (contracts/pyproject.toml), installed from the tree.
RUN pip install --no-cache-dir -c constraints.txt ./contracts . \
    && rm -rf build *.egg-info contracts/build contracts/*.egg-info

USER 10001:10001

EXPOSE 8080 8090
STOPSIGNAL SIGTERM

ENTRYPOINT ["casemesh"]
CMD ["run", "referrals"]
