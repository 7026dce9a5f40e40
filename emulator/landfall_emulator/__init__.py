"""The embedded emulator: moto's S3, SQS, Lambda and Step Functions, extended to run the real
`statemachine/pipeline.asl.json` with Distributed Map as AWS runs it, and the real handlers.

It knows a SAM template, not Landfall: given a template's path it creates that template's resources
and runs the functions its CodeUri names. It imports neither the library nor the command line.
"""
