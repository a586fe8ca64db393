"""The sync health page (``/crsync/``): an Airflow 3 plugin app served by the API server.

Its own package, apart from :mod:`crsync_provider`: the provider (hooks, operators, links) is loaded by every
task process, this is UI code (FastAPI routes, a Jinja template) that only the API server loads. Modules:
``health_plugin`` (the AirflowPlugin: app + navigation entry), ``health_app`` (routes, authentication and
permissions), ``health_data`` (what the page reads), ``health_actions`` (Retry and Resolve),
``health_links`` (links to the records). What the flows record for it: :mod:`crsync.runtime.health_log`.

Every module here imports its siblings by absolute name. Airflow's plugin loader executes each ``.py`` file
of the plugins folder on its own, in every task process too; ``plugins/.airflowignore`` leaves it only
``health_plugin.py``, which builds the FastAPI app on the API server's first request.
"""
