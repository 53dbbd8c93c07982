"""The roofwatch fleet agent: runs the bundled engine on benchmark models,
keeps every report in a durable spool and uploads it to the platform.

It imports nothing of Django and needs only the standard library and
`requests`. Modules:

- `spool`:       the on-disk spool (atomic writes, pending/ack/reject, <key>.meta notes)
- `client`:      HTTP upload of one report and the flush loop with backoff
- `runner`:      the engine subprocess (timeout, cancel, CPU pinning, any checkout's engine)
- `cycle`:       one `run-once --model` run into the spool
- `config`:      the TOML config, read strictly, written 0600
- `register`:    enrollment token -> machine token -> config
- `quiet`:       waiting for a quiet machine; the noise conditions
- `worktree`:    a git worktree at a commit, for commit jobs
- `execute`:     one measurement as the daemon makes it (quiet, pinned, worktree)
- `jobs_client`: claim / heartbeat / complete over HTTP
- `outbox`:      job completions waiting for the server
- `state`:       last upload, last error, schedules (for `status`)
- `daemon`:      the job loop, signals, peaks refresh
- `logs`:        key=value or JSON log lines, the progress bar
- `cli`:         the `roofwatch-agent` command
"""

LOGGER_NAME = "roofwatch.agent"
