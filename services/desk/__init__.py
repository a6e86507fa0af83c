"""The news desk: a read-only web application and JSON API over the `news` alias and the
pipeline's own metrics. `wirestream serve desk`; see services/desk/app.py for the routes."""
