"""The dumpscan.report/1 schema and its renderers."""
