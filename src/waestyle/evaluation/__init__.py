"""Evaluation: metrics, the methods compared (models, Gatys, the peer), the comparison run, reports and the
research's experiments."""
