"""The HTML report's parts: its template, script and style (``dumpscan.report.render_html``
inlines them into one self-contained page) and its charts (``charts``: Vega-Lite specs)."""
