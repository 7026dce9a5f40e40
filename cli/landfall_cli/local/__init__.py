"""The embedded emulator: moto's S3, SQS, Lambda and Step Functions, extended to run the real
`statemachine/pipeline.asl.json` with Distributed Map as AWS runs it, and the real handlers."""
