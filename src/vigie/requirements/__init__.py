"""Provider requirements as code, their checks, attestations, campaigns, the dossier."""
