"""One module per `ifan` subcommand."""
