"""CLI subcommands, one module each. Module level imports stay standard-library only."""
