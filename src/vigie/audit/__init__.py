"""vigie.audit"""
