"""Studies (YAML) and what turns one into a Ray Tune run with MLflow tracking."""
