"""Shared pytest set-up."""

# Fixture notebooks of the browser test are broken on purpose; nbval must not run them.
collect_ignore_glob = ["browser_fixtures/*"]
