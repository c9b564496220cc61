"""vigie.synth"""
