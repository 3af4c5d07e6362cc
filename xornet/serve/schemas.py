"""The request and response models of `xornet serve`, for its OpenAPI documentation.

Request bodies are read by `xornet.serve.inputs` (JSON or CSV, with the CLI's
one-line errors); these models describe them at /docs and /openapi.json.

Example:
    >>> PredictRequest(inputs=[[0, 1, "east"]]).inputs
    [[0.0, 1.0, 'east']]
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PredictRequest(BaseModel):
    """Rows to predict, each holding the training features (GET /model: input.features): numbers, a
    categorical feature's category as text, null where a cell is missing; a row is a list in the features'
    order, or an object keyed by their names."""

    model_config = ConfigDict(json_schema_extra={"example": {"inputs": [[0, 0], [0, 1], {"x1": 1, "x2": 0}]}})
    inputs: list[list[float | str | None] | dict[str, float | str | None]] = Field(min_length=1)


class PredictionRow(BaseModel):
    """One row of `xornet predict --format json`: probability and class, or a regression model's prediction."""

    input: list[float]
    probability: float | list[float] | None = Field(
        None, description="Classification: one number for one output, else one per output.")
    class_: int | str | None = Field(None, alias="class",
                                     description="Classification: the class name from the run record, else its index.")
    probabilities: dict[str, float] | None = Field(
        None, description="Multi-class models with class names: each class name's probability.")
    prediction: float | list[float] | None = Field(
        None, description="Regression models: the predicted value (one per output for several outputs).")


class ErrorBody(BaseModel):
    """Every error: one line saying what is wrong, where, what was expected and what was received."""

    error: str


class Health(BaseModel):
    status: str


PREDICT_REQUEST_DOC = {
    "parameters": [{"name": "threshold", "in": "query", "required": False,
                    "description": "Class 1 when the probability is above this.",
                    "schema": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5}}],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": PredictRequest.model_json_schema()},
            "text/csv": {"schema": {"type": "string", "example": "x1,x2\n0,1\n1,1\n"}},
        },
    }
}
