"""The lean baseline for bench_serving.py: an ASGI app that only parses a
``dataframe_split`` body and calls the scikit-learn model's predict (no auth, no routing,
no capture, no metrics). The model comes from ``LEAN_MODEL_URI`` (MLflow URIs resolve
through the usual MLFLOW_* variables)."""

import os

import mlflow.sklearn
import orjson
import pandas as pd

MODEL = mlflow.sklearn.load_model(os.environ["LEAN_MODEL_URI"])


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    split = orjson.loads(body)["dataframe_split"]
    frame = pd.DataFrame(split["data"], columns=split["columns"])
    out = orjson.dumps({"predictions": MODEL.predict(frame)}, option=orjson.OPT_SERIALIZE_NUMPY)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": out})
