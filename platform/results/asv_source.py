"""Where an asv results directory is read from: a directory on disk, or a
path in a git repository at a branch (the results branch many projects keep),
read straight from git's objects without a checkout.

A source lists the result files under it as paths relative to the results
directory ("benchmarks.json", "<machine>/machine.json", "<machine>/<file>.json")
and reads one as bytes; `label` names a file in messages (its path, or
"<branch>:<path>" in git)."""
from __future__ import annotations

import subprocess
from pathlib import Path, PurePosixPath


class AsvSourceError(ValueError):
    """A source that cannot be read at all (no such directory, repository or branch)."""


class DirectorySource:
    def __init__(self, results_dir: str | Path):
        self.root = Path(results_dir)
        if not self.root.is_dir():
            raise AsvSourceError(f"{self.root}: is not a directory")

    def label(self, path: str) -> str:
        return str(self.root / path)

    def files(self) -> list[str]:
        """benchmarks.json and the .json files one directory down (asv's machines), sorted."""
        top = [p.name for p in self.root.glob("*.json")]
        below = [f"{p.parent.name}/{p.name}" for p in self.root.glob("*/*.json")]
        return sorted(top + below)

    def read(self, path: str) -> bytes:
        return (self.root / path).read_bytes()

    def config(self) -> tuple[str, bytes] | None:
        """(label, bytes) of the asv.conf.json beside the results directory, if any."""
        conf = self.root.parent / "asv.conf.json"
        return (str(conf), conf.read_bytes()) if conf.is_file() else None

    def close(self) -> None:
        pass


class GitSource:
    """The results directory `subdir` of branch (or any ref) `ref` in the git
    repository `repo`. Blobs are read through one `git cat-file --batch`."""

    def __init__(self, repo: str | Path, ref: str, subdir: str | None = None):
        self.repo, self.ref = Path(repo), ref
        tree = self._tree()
        if subdir is None:  # the results at the top of the branch, else in results/ as asv.conf.json's default
            subdir = "" if "benchmarks.json" in tree else "results" if "results/benchmarks.json" in tree else ""
        self.subdir = PurePosixPath(subdir.strip("/")) if subdir.strip("/") else PurePosixPath()
        prefix = "" if self.subdir == PurePosixPath() else f"{self.subdir}/"
        self._blobs = {path[len(prefix):]: sha for path, sha in tree.items() if path.startswith(prefix)}
        self._conf_path = str(self.subdir.parent / "asv.conf.json") if prefix else "asv.conf.json"
        self._conf_sha = tree.get(self._conf_path.removeprefix("./"))
        self._cat: subprocess.Popen | None = None

    def _git(self, *args: str) -> bytes:
        done = subprocess.run(("git", "-C", str(self.repo), *args), capture_output=True)
        if done.returncode != 0:
            raise AsvSourceError(f"{self.repo} {self.ref}: git {args[0]} failed: "
                                 f"{done.stderr.decode(errors='replace').strip()}")
        return done.stdout

    def _tree(self) -> dict[str, str]:
        """{path: blob sha} of every file at the ref."""
        out = self._git("ls-tree", "-r", "-z", "--full-tree", f"{self.ref}^{{tree}}")
        tree = {}
        for entry in out.split(b"\0"):
            if entry:
                meta, _, path = entry.partition(b"\t")
                mode, kind, sha = meta.split()
                if kind == b"blob":
                    tree[path.decode("utf-8", errors="surrogateescape")] = sha.decode()
        return tree

    def label(self, path: str) -> str:
        full = PurePosixPath(self.subdir, path)
        return f"{self.repo}@{self.ref}:{full}"

    def files(self) -> list[str]:
        return sorted(p for p in self._blobs if p.endswith(".json") and p.count("/") <= 1)

    def read(self, path: str) -> bytes:
        sha = self._blobs.get(path)
        if sha is None:
            raise FileNotFoundError(self.label(path))
        return self._blob(sha)

    def _blob(self, sha: str) -> bytes:
        if self._cat is None:
            self._cat = subprocess.Popen(("git", "-C", str(self.repo), "cat-file", "--batch"),
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._cat.stdin.write(sha.encode() + b"\n")
        self._cat.stdin.flush()
        header = self._cat.stdout.readline().split()  # <sha> blob <size>, or <sha> missing
        if len(header) != 3:
            raise OSError(f"git cat-file: object {sha} is missing")
        data = self._cat.stdout.read(int(header[2]))
        self._cat.stdout.read(1)  # the newline after the object
        return data

    def config(self) -> tuple[str, bytes] | None:
        if self._conf_sha is None:
            return None
        return f"{self.repo}@{self.ref}:{self._conf_path}", self._blob(self._conf_sha)

    def close(self) -> None:
        if self._cat is not None:
            self._cat.stdin.close()
            self._cat.wait()
            self._cat = None
