"""The local Knative-style broker: a development stand-in for `shop up` and the tests."""
