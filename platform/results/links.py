"""Links to a repository's commits on its web host (GitHub/GitLab style)."""


def commit_url(repository: str, commit: str) -> str | None:
    """A link to one commit on a GitHub/GitLab-style host; None when the repository is not a web URL."""
    if not repository.startswith(("https://", "http://")) or not commit:
        return None
    return f"{repository.rstrip('/').removesuffix('.git')}/commit/{commit}"


def compare_url(repository: str, last_good: str, first_bad: str) -> str | None:
    if not repository.startswith(("https://", "http://")) or not last_good or not first_bad:
        return None
    return f"{repository.rstrip('/').removesuffix('.git')}/compare/{last_good}...{first_bad}"
