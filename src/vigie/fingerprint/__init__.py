"""vigie.fingerprint"""
