"""docs/ci/ci-check.sh, run as written against a live server: its openssl
signature is accepted (the commit's jobs are made) and ci-check then says it
could not tell (exit 2: no runs yet)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fleet.models import Job, Machine
from tests.conftest import REPO
from tests.notify.conftest import REPOSITORY, SHA

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("openssl")), reason="needs curl and openssl")
def test_the_shell_example_schedules_the_commit_and_exits_2_without_results(live_server, project, secret, fleet):
    env = {**os.environ, "ROOFWATCH_SERVER": live_server.url, "ROOFWATCH_HOOK_SECRET": secret,
           "ROOFWATCH_PROJECT": str(project.pk),
           "ROOFWATCH_TOKEN": Machine.objects.get(name="w1").rotate_token(), "REPOSITORY": REPOSITORY,
           "COMMIT": SHA, "BRANCH": "main", "BUILD_URL": "https://ci.example.com/1", "ROOFWATCH_WAIT": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["sh", str(REPO / "docs" / "ci" / "ci-check.sh")], env=env, capture_output=True,
                          text=True, timeout=120)
    assert '"jobs_created": 2' in done.stdout, done.stdout + done.stderr
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"no runs of commit {SHA}" in done.stderr
    assert Job.objects.filter(commit=SHA).count() == 2
