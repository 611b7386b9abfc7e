"""The lean baseline for bench_serving.py: an ASGI app that only parses a
``dataframe_split`` body into a numpy array and calls the scikit-learn model's predict (no
pandas, no auth, no routing, no capture, no metrics), as the lean app of
``serving_bench.py`` does. The model comes from ``LEAN_MODEL_URI`` (MLflow URIs resolve
through the usual MLFLOW_* variables)."""

import os
import warnings

import mlflow.sklearn
import numpy as np
import orjson

MODEL = mlflow.sklearn.load_model(os.environ["LEAN_MODEL_URI"])
# the columns come in the model's order; sklearn's "fitted with feature names" warning is noise
warnings.filterwarnings("ignore", message="X does not have valid feature names")


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
    rows = np.asarray(split["data"], dtype=np.float64)
    out = orjson.dumps({"predictions": MODEL.predict(rows)}, option=orjson.OPT_SERIALIZE_NUMPY)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": out})
