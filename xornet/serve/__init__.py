"""`xornet serve`: a saved model behind HTTP (FastAPI + uvicorn), with one page to look at it.

`served_model.py` loads and verifies the model once and describes it;
`inputs.py` turns request bodies into rows or one-line errors; `app.py` is the
ASGI app, which answers the model's routes without importing FastAPI; `api.py`
is the FastAPI app it hands the rest to (docs, OpenAPI schema), built on first
use; `server.py` runs it with uvicorn; `page.html` is the page at `/`.

Example:
    >>> from xornet.serve.app import create_app
    >>> app = create_app("models/basic_model.json")  # then: uvicorn.run(app)
"""
