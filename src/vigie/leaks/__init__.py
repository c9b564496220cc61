"""vigie.leaks"""
