"""Signals the bisection app sends; notify subscribes (bisection imports no notify).

culprit_found(bisection_id): sent after the transaction that recorded a
bisection's culprits committed.
"""
from django.dispatch import Signal

culprit_found = Signal()
