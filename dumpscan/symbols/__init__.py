"""Symbol tables: reading ISF files, finding the one a dump needs, PE CodeView records."""
