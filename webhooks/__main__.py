"""``python -m webhooks`` is the same as the ``truthgate`` command."""

from webhooks.cli import main

main()
