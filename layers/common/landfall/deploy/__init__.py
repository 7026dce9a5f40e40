"""What runs once when the stack deploys: the reserved-concurrency check."""
