"""vigie.breach"""
