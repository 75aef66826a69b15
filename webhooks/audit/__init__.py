"""``truthgate audit``: the same collect → judge → publish as the PostSync hook, between syncs."""
