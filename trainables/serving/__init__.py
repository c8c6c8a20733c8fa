"""Using a trained model: the MLflow pyfunc that reads raw audio, transcribing, and
scoring a model on a dataset."""
