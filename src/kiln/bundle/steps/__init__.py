"""The bundle pipeline's steps, one concept per module; ``kiln.bundle.phases`` orders them."""
