"""The controller's registry of data subjects, with the full version history of each."""
