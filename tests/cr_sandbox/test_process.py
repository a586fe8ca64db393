import requests


def test_both_standins_serve_https_with_the_sandbox_ca(sandbox):
    for url in (sandbox.netsuite_url, sandbox.salesforce_url):
        resp = requests.get(f"{url}/__sandbox/health", verify=str(sandbox.ca_path), timeout=5)
        assert resp.status_code == 200
    assert sandbox.ca_path.read_text().startswith("-----BEGIN CERTIFICATE-----")
