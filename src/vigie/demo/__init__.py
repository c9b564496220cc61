"""``vigie demo``: the OFII case replayed end to end on a fresh embedded instance."""
