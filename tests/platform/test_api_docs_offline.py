import re


def test_the_api_docs_page_loads_its_scripts_from_our_own_static_files(client):
    html = client.get("/api/docs/").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui" in s for s in sources)
    assert not [s for s in sources if s.startswith(("http://", "https://", "//"))], sources
    for src in sources:
        if src.startswith("/static/"):
            assert client.get(src).status_code == 200, src
