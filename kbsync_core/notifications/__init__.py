"""Notifications: a connection's webhooks told when a sync of its data source ends.

- webhooks.py: the webhooks of a connection (added, listed as hints, deleted, tested); their
  URLs stored encrypted (kbsync_core/secretbox.py).
- messages.py: the message one Slack or Teams incoming webhook takes as it is.
- delivery.py: one HTTP POST, its answer read as delivered, to retry, or failed for good.
- notifier.py: the background thread that finds ended syncs and sends their messages, once.
"""
