"""What people look at: plots, SVG charts, the explorers, the dashboard and the HTML report."""
