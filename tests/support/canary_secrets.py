"""Canary secrets: the only fake passwords and tokens the tests use, defined once.

The session-wide scan (tests/support/secret_scan.py) fails the run if any of them shows up in a test's captured
output, logs or the files the tests' services wrote, so every test that needs a secret takes it from here.
Values are distinctive (never a substring of anything else) and, but for the last two, made of URL-safe
characters, so an encoded form equals the value; the scan also looks for their base64 forms (basic-auth
headers) and, for the two passwords with ``/`` and ``@`` (the shapes a URL parser cuts wrongly, issue 33),
their percent-encoded forms and the part after the ``/`` or ``@`` alone (what a wrong cut would print).
"""

from __future__ import annotations

# kind -> value; the kind is what a leak report prints (never the value)
CANARIES: dict[str, str] = {
    "warehouse password": "pgpw-mlpcanary-7c41e9a2",
    "mlflow password": "mlflowpw-mlpcanary-3f8b2d61",
    "mlflow token": "mlflowtok-mlpcanary-95ad0c7e",
    "openmetadata jwt": "eyJhbGciOiJIUzI1NiJ9.omjwt-mlpcanary-a6e2f471.c2lnbmF0dXJl",
    "wrong openmetadata jwt": "eyJhbGciOiJIUzI1NiJ9.wrongjwt-mlpcanary-18d5b3c0.c2lnbmF0dXJl",
    "airflow connection password": "afpw-mlpcanary-2b9e4d17",
    "test secret": "hunter2-mlpcanary-0e7a6c35",
    "database password": "dbpw-mlpcanary-61f0a9bc",
    "webhook token": "hooktok-mlpcanary-5d2c8e91",
    "slack webhook token": "slacktok-mlpcanary-c47a1f03",
    "smtp password": "smtppw-mlpcanary-8e3b60d4",
    "mlflow admin password": "adminpw-mlpcanary-1c5f7a20",
    "mlflow trainer password": "trainerpw-mlpcanary-6a0d3e84",
    "mlflow approver password": "approverpw-mlpcanary-b2e94c17",
    "mlflow reader password": "readerpw-mlpcanary-47f1d8a6",
    "password with a slash": "slashpw/mlpcanary-4b8e2c90",
    "password with an at sign": "atpw@mlpcanary-d3a91f5e",
}

WAREHOUSE_PASSWORD = CANARIES["warehouse password"]
MLFLOW_PASSWORD = CANARIES["mlflow password"]
MLFLOW_TOKEN = CANARIES["mlflow token"]
OPENMETADATA_JWT = CANARIES["openmetadata jwt"]
WRONG_OPENMETADATA_JWT = CANARIES["wrong openmetadata jwt"]
AIRFLOW_CONNECTION_PASSWORD = CANARIES["airflow connection password"]
TEST_SECRET = CANARIES["test secret"]
DATABASE_PASSWORD = CANARIES["database password"]
WEBHOOK_TOKEN = CANARIES["webhook token"]
SLACK_WEBHOOK_TOKEN = CANARIES["slack webhook token"]
SMTP_PASSWORD = CANARIES["smtp password"]
SLASH_PASSWORD = CANARIES["password with a slash"]
AT_PASSWORD = CANARIES["password with an at sign"]
