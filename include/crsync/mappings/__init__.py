"""One module per mapping: pandas + pydantic transforms between the two systems' record shapes."""
