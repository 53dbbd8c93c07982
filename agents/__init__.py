"""The roofwatch fleet agent: runs the bundled engine on benchmark models,
keeps every report in a durable spool and uploads it to the platform.

It imports nothing of Django and needs only the standard library and
`requests`. Modules:

- `spool`:  the on-disk spool (atomic writes, pending/ack/reject)
- `client`: HTTP upload of one report and the flush loop with backoff
- `runner`: the engine subprocess
- `cycle`:  one benchmark run into the spool (what run-once and, later, the
            daemon's job loop share)
- `cli`:    the `roofwatch-agent` command
"""

LOGGER_NAME = "roofwatch.agent"
