"""Local stand-ins for the NetSuite and Salesforce APIs (sandbox only, never production).

Both stand-ins speak the vendors' documented wire formats over HTTPS so that the same hooks and
DAGs run against them and against real orgs, with only the Airflow connections changed.
"""
