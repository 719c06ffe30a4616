// segment-dump: placeholder until the segment-dump issue lands.
print("segment-dump: not implemented yet")
