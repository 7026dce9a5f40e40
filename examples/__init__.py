"""Examples the README shows; the tests import them, so they keep working."""
