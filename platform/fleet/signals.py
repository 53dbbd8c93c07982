"""Signals of the fleet app, for apps above it (fleet imports none of them).

machine_enrolled(machine, enrollment_token): a new machine registered itself
with that enrollment token. Sent inside the enrollment transaction, so what a
receiver writes (results grants the token's projects) is kept or rolled back
with the machine.

job_finished(job_id, status): a job became done, failed or cancelled (sender
Job). Sent after the transaction that finished it commits (fleet.jobs), once
per job, so a receiver reads the job as stored.
"""
from django.dispatch import Signal

machine_enrolled = Signal()
job_finished = Signal()
