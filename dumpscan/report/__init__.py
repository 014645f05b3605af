"""The dumpscan.report/1 schema, and the text, CSV and JSON front ends of the views."""
