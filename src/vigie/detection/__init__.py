"""vigie.detection"""
