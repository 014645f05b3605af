"""The synthetic crash-dump factory: faithful Windows kernel dumps with ground truth."""
