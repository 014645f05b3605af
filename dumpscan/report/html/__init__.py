"""The HTML report's template, script and style (``dumpscan.report.render_html`` inlines
them into one self-contained page)."""
