"""Backend x precision x batch benchmarks with accuracy beside speed."""
