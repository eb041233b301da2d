"""The business dashboard at /app/: accounts, team, inbox (part 1) and the pages part 2 adds."""
