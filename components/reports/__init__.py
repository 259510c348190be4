"""Reports shared by the steps and the UI: the KFP report artifacts, tables, SVG charts, and artifact files read
back."""
