"""vigie.gateway"""
