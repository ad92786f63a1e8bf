"""The live demo (ifan demo): sources, capture/inference/display threads, overlay, stream output, latency."""
