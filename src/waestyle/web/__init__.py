"""The web app (`waestyle serve`): FastAPI over a Stylizer, and its static page."""
