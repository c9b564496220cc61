"""Running Vigie in production: backup and restore, retention."""
