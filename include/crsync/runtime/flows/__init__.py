"""Task bodies of the four flows. DAG files import these lazily inside their tasks, so parsing a DAG
never imports pandas, simple-salesforce or the HTTP clients."""
