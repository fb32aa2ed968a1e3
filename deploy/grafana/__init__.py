"""The Grafana dashboard (casemesh.json) and its rendered preview (render_preview.py)."""
