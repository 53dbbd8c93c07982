"""Users clone this repository and nothing beside it: no tracked file may point
at a folder outside it (the design once lived in a sibling `shared/` folder)."""
import subprocess

from tests.conftest import REPO

OUTSIDE = "../" + "shared"  # spelled in two parts so this file does not match itself


def test_no_tracked_file_points_outside_the_repository():
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    pointing = []
    for name in filter(None, files.decode().split("\0")):
        path = REPO / name
        if path.is_file() and OUTSIDE.encode() in path.read_bytes():
            pointing.append(name)
    assert pointing == []


def test_the_readme_links_the_architecture_inside_the_repository():
    assert "(docs/architecture.md)" in (REPO / "README.md").read_text()
    assert (REPO / "docs" / "architecture.md").is_file()
