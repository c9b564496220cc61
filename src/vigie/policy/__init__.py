"""vigie.policy"""
