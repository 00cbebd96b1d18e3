"""Azure Functions entry point (Python v2 programming model).

Triggers only: each body translates its trigger, calls into `monitors/`, and translates back.
Nothing runs at import beyond declaring the app, so cold starts stay cheap.
"""

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
