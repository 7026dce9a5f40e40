"""What a deployment is sized and checked by: the processor's capacity figures the template's mappings
hold (`capacity`), and the reserved-concurrency check that runs once when the stack deploys."""
