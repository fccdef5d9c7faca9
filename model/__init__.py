"""The shared vocabulary at the bottom of syncd: records, changes, writes, errors, field names.

Every other package may import it; it imports nothing of ours.
"""
