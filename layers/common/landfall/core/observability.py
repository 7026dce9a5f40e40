"""The one logger, tracer and metrics object every function and module shares."""

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "landfall"
METRICS_NAMESPACE = "Landfall"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)
