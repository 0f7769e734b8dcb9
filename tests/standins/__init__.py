"""Local stand-ins for the Kubernetes API and GitHub.

Used by the tests, the demo and the benchmark alike.
"""
