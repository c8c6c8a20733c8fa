"""MLflow runs to pandas, tables, seaborn figures and the report."""
