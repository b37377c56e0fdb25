"""The pattern model: test-time views, multi-layer pooling and a fixed centre, composed in `model`."""
