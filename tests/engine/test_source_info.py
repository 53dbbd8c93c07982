import shutil
import subprocess

import pytest

from engine.source_info import detect_source

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(cwd, *args):
    env_args = ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]
    return subprocess.run(["git", *env_args, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path):
    git(tmp_path, "init", "-q", "-b", "feature/x")
    (tmp_path / "f.txt").write_text("x")
    git(tmp_path, "add", "f.txt")
    git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


def test_it_reads_commit_branch_time_and_falls_back_to_a_file_url(checkout):
    src = detect_source(root=checkout)
    assert src.commit == git(checkout, "rev-parse", "HEAD")
    assert src.branch == "feature/x"
    assert src.repository == checkout.as_uri()
    assert src.commit_time == git(checkout, "show", "-s", "--format=%cI", "HEAD")
    assert src.ci_url is None


def test_it_prefers_the_origin_url(checkout):
    git(checkout, "remote", "add", "origin", "https://example.com/acme/models.git")
    assert detect_source(root=checkout).repository == "https://example.com/acme/models.git"


def test_explicit_values_win(checkout):
    src = detect_source(root=checkout, repository="r", commit="abc123", branch="main", ci_url="https://ci/1")
    assert (src.repository, src.commit, src.branch, src.ci_url) == ("r", "abc123", "main", "https://ci/1")
    assert src.commit_time is None  # git does not know that commit


def test_a_detached_head_has_no_branch(checkout):
    git(checkout, "checkout", "-q", "--detach")
    assert detect_source(root=checkout).branch == ""


def test_outside_a_checkout_everything_stays_empty(tmp_path):
    src = detect_source(root=tmp_path)
    assert (src.repository, src.commit, src.branch, src.commit_time) == ("", "", "", None)


def test_a_subdirectory_of_someone_elses_checkout_is_not_ours(checkout):
    sub = checkout / "site-packages"
    sub.mkdir()
    assert detect_source(root=sub).commit == ""
