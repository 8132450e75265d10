"""Reference implementations (NumPy, float64) that the Rust kernels are tested against."""
