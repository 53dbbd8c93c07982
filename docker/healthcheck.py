#!/usr/bin/env python
"""Docker HEALTHCHECK for the web container: GET the dashboard's health page
on the local gunicorn and exit 0 only on HTTP 200.

The request carries a Host header Django accepts (the first ALLOWED_HOSTS
entry), so the check works whatever public name the site is served under.
"""
import os
import sys
import urllib.error
import urllib.request

PORT = os.environ.get("ROOFWATCH_HEALTHCHECK_PORT", "8000")
PATH = "/healthz"


def allowed_host() -> str:
    for host in os.environ.get("ALLOWED_HOSTS", "").split(","):
        host = host.strip().lstrip(".")  # ".example.com" also allows example.com
        if host and host != "*":
            return host
    return "localhost"


def main() -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}{PATH}", headers={"Host": allowed_host()})
    try:
        with urllib.request.urlopen(request, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck: GET {PATH} failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
