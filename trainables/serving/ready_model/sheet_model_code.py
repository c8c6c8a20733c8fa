"""The code MLflow stores with each model ("models from code", not a pickle): loading the
model runs this file, which needs only the installed sheetsweep package."""

import mlflow.models

from trainables.serving.sheet_model import SheetModel

mlflow.models.set_model(SheetModel())
