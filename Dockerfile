# One image for every Casemesh service; the service is chosen by the command,
# e.g. `docker run casemesh:0.1.0 run approvals`, and `docker run casemesh:0.1.0 demo` runs the
# embedded demo (in-memory broker and stores) with nothing else started.
#
# Both stages start from one base pinned by digest, so a rebuild gets the same Python and Debian.
# The digest is the multi-arch index of python:3.11.10-slim-bookworm on Docker Hub; it could not be
# pulled where this file was written, so it was taken from public repositories that pin the same tag
# (several agree, one records querying registry-1.docker.io for the index digest). 3.11.10 is a
# superseded patch release, so Docker Hub no longer rebuilds it: Renovate or Dependabot (docker
# ecosystem) should move tag and digest together to a current 3.11.x, and CI's image build proves it.

# -- build: the wheels of casemesh-contracts and casemesh, installed into a virtual environment.
FROM python:3.11.10-slim-bookworm@sha256:840e180ebcc6e5c8efab209c43f5e40fd2af98cb49db5c7103c90539c56bb30e AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src

# Dependency metadata first so the layer is reused while only sources change.
COPY pyproject.toml constraints.txt ./
COPY contracts/ contracts/
COPY kit/ kit/
COPY services/ services/
COPY casemesh/ casemesh/
# The broker's security jobs (python -m deploy.kafka: certificate, topics and ACLs) run this image too.
COPY deploy/ deploy/

# A venv without pip: the base image's pip installs into it (--python), so the runtime stage copies
# the dependencies and nothing that installs more. casemesh-contracts is its own distribution
# (contracts/pyproject.toml), built from the tree in the same call so it never comes from an index.
# The demo extra (rich, mongomock) goes in too: the demo must work in this image, and one image
# keeps compose's single build; every dependency is a pure-Python or manylinux wheel, so no
# compiler is installed in either stage.
RUN python -m venv --without-pip /opt/casemesh \
    && pip --python /opt/casemesh/bin/python install -c constraints.txt ./contracts '.[demo,tracing]'

# -- runtime: the base image, a user, and the venv.
FROM python:3.11.10-slim-bookworm@sha256:840e180ebcc6e5c8efab209c43f5e40fd2af98cb49db5c7103c90539c56bb30e AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/casemesh/bin:$PATH \
    CASEMESH_HEALTH_PORT=8080

RUN groupadd --system --gid 10001 casemesh \
    && useradd --system --uid 10001 --gid casemesh --create-home --home-dir /home/casemesh \
        --shell /usr/sbin/nologin casemesh

COPY --from=build /opt/casemesh /opt/casemesh

# Writable by the service user: the demo writes its services' log under ./.run.
WORKDIR /home/casemesh
USER 10001:10001

EXPOSE 8080 8090
STOPSIGNAL SIGTERM

# Liveness on the health port (compose gives every service 8080; CASEMESH_HEALTH_PORT follows a
# service moved elsewhere). Python's urllib, because the slim base has no curl. Compose's own
# readiness checks replace this one; one-off commands (demo, the deploy jobs) exit before it counts.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('CASEMESH_HEALTH_PORT', '8080') + '/health/live', timeout=4)"]

ENTRYPOINT ["casemesh"]
CMD ["run", "referrals"]
