"""kbsync's command line: `python -m kbsync --help`."""
